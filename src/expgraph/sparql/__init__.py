"""The SPARQL service: what stands between a request (web endpoint, saved query, CLI) and the store.

``lexer`` cuts text into SPARQL terminals; ``guard`` decides on them (read-only, nothing remote); ``template`` puts
values into queries as terms; ``saved`` holds the saved-query library; ``formats`` writes results; ``execute``
takes one query from check to serialised answer; ``runner`` runs queries in killable, time- and memory-limited
``workers``, ``scheduler`` decides who goes next and ``cache`` keeps recent answers. Nothing is imported here, so
the store can use the lexer without loading the service.
"""
