__turbopack_load_page_chunks__("/hello", [
  "static/chunks/0-o15vhkpbgx9.js",
  "static/chunks/turbopack-2u1d16houkiyo.js"
])
