__turbopack_load_page_chunks__("/static-props", [
  "static/chunks/3354a0pxbdzam.js",
  "static/chunks/turbopack-2u1d16houkiyo.js"
])
