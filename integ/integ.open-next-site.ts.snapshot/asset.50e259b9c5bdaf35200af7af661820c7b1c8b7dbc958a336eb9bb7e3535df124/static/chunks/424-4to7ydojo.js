__turbopack_load_page_chunks__("/_app", [
  "static/chunks/1xki8nuz3e1hg.js",
  "static/chunks/0a4dhwxh8ndb8.js",
  "static/chunks/turbopack-2u1d16houkiyo.js"
])
