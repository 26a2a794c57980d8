self.__BUILD_MANIFEST = {
  "/_error": [
    "static/chunks/0m92kwe5ztlds.js"
  ],
  "/hello": [
    "static/chunks/1ex0xur2y0pa4.js"
  ],
  "/static-props": [
    "static/chunks/3_lkdoabtbdq4.js"
  ],
  "__rewrites": {
    "afterFiles": [],
    "beforeFiles": [],
    "fallback": []
  },
  "sortedPages": [
    "/_app",
    "/_error",
    "/hello",
    "/static-props"
  ]
};self.__TURBOPACK_PAGE_BOOTSTRAP = {"/hello":{"otherChunks":["static/chunks/0-o15vhkpbgx9.js"],"runtimeModuleIds":[10783,27203]},"/static-props":{"otherChunks":["static/chunks/3354a0pxbdzam.js"],"runtimeModuleIds":[10783,18035]},"/_app":{"otherChunks":["static/chunks/1xki8nuz3e1hg.js","static/chunks/0a4dhwxh8ndb8.js"],"runtimeModuleIds":[10783,30984]},"/_error":{"otherChunks":["static/chunks/3n_c8q1xtyv-r.js"],"runtimeModuleIds":[10783,80184]}};self.__TURBOPACK_CHUNK_LOADING_GLOBAL = "TURBOPACK";self.__BUILD_MANIFEST_CB && self.__BUILD_MANIFEST_CB()