// The query editor on /sparql: CodeMirror 5 (vendored) with SPARQL highlighting and completion of prefixes and of
// the classes, properties and concepts the catalog declares (/editor/terms). Picking "eg:Run" in a query that does
// not declare eg: adds the PREFIX line. A file rather than inline script: the CSP allows scripts from this server only.
// The form sends the query in the URL (GET) so a result page can be shared, unless the URL would be too long.
(function () {
  "use strict";
  var area = document.getElementById("query");
  if (!area || !window.CodeMirror) return;
  var MAX_URL = 6000;  // below the server's default request-target limit (8192 bytes), with room to spare
  var prefixes = {}, terms = [];

  function declared(cm, prefix) {
    return new RegExp("^\\s*PREFIX\\s+" + prefix.replace(/[.\-]/g, "\\$&") + ":", "im").test(cm.getValue());
  }

  function ensurePrefix(cm, prefix) {
    if (prefixes[prefix] && !declared(cm, prefix)) {
      cm.replaceRange("PREFIX " + prefix + ": <" + prefixes[prefix] + ">\n", CodeMirror.Pos(0, 0));
    }
  }

  function insert(cm, data, completion) {
    cm.replaceRange(completion.text, data.from, data.to);
    if (completion.prefix) ensurePrefix(cm, completion.prefix);
  }

  function startsWith(text, start) { return text.slice(0, start.length).toLowerCase() === start.toLowerCase(); }

  function hint(cm) {
    var cur = cm.getCursor(), line = cm.getLine(cur.line), start = cur.ch;
    while (start > 0 && /[\w:.\-]/.test(line.charAt(start - 1))) start--;
    var word = line.slice(start, cur.ch), before = line.charAt(start - 1);
    if (!word || before === "?" || before === "$" || before === "<" || before === "\"" || before === "'") return null;
    var list = [];
    if (/^\s*PREFIX\s+$/i.test(line.slice(0, start))) {  // declaring a prefix: offer the whole declaration
      Object.keys(prefixes).forEach(function (p) {
        if (startsWith(p, word.replace(/:$/, ""))) list.push({ text: p + ": <" + prefixes[p] + ">", displayText: p + ": <" + prefixes[p] + ">" });
      });
    } else if (word.indexOf(":") < 0) {
      Object.keys(prefixes).forEach(function (p) {
        if (startsWith(p, word)) list.push({ text: p + ":", displayText: p + ":   " + prefixes[p], prefix: p, hint: insert });
      });
    } else {
      terms.forEach(function (t) {
        if (startsWith(t.name, word)) {
          list.push({ text: t.name, displayText: t.name + "   " + t.kind + (t.label ? " · " + t.label : ""),
                      prefix: t.name.split(":")[0], hint: insert });
        }
      });
    }
    if (!list.length) return null;
    return { list: list.slice(0, 80), from: CodeMirror.Pos(cur.line, start), to: CodeMirror.Pos(cur.line, cur.ch) };
  }

  var cm = CodeMirror.fromTextArea(area, {
    mode: "application/sparql-query", lineNumbers: true, indentUnit: 2, viewportMargin: Infinity,
    extraKeys: { "Ctrl-Space": "autocomplete", "Ctrl-Enter": function () { submit(); } },
    hintOptions: { hint: hint, completeSingle: false }
  });
  cm.on("inputRead", function (editor, change) {
    var typed = change.text[change.text.length - 1];
    if (!editor.state.completionActive && /[\w:]$/.test(typed)) editor.showHint({ completeSingle: false });
  });

  var form = area.form;
  function submit() {
    cm.save();
    var url = form.getAttribute("action") + "?query=" + encodeURIComponent(area.value);
    form.method = url.length > MAX_URL ? "post" : "get";  // a long query still runs, without a shareable URL
    form.submit();
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });

  fetch("/editor/terms", { headers: { "Accept": "application/json" } })
    .then(function (response) { return response.json(); })
    .then(function (data) {
      prefixes = data.prefixes;
      terms = data.terms;
      form.setAttribute("data-editor-terms", String(terms.length));
    });
  form.setAttribute("data-editor", "ready");
})();
