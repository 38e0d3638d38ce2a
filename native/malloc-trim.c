/*
 * malloc_trim(3) for Node.js, as a Node-API module with no build system: `cc -shared -fPIC` is all it needs
 * (scripts/build-native.mjs). src/server/memory-trim.ts explains why Orchard calls it.
 *
 * Node-API is ABI-stable by contract, so the three functions used here are declared below instead of taking
 * node_api.h from a Node.js source or header package, which a deployment machine may not have. Their
 * signatures are those of node_api.h / js_native_api.h (Node-API version 1); the symbols resolve against the
 * node binary when the module is loaded.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* an enum in node_api.h; 0 is napi_ok */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);

extern napi_status napi_create_function(napi_env env, const char *utf8name, size_t length, napi_callback cb, void *data, napi_value *result);
extern napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name, napi_value value);
extern napi_status napi_get_boolean(napi_env env, bool value, napi_value *result);

/* mallocTrim(): returns true when glibc gave memory back to the system. */
static napi_value malloc_trim_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  if (napi_get_boolean(env, malloc_trim(0) == 1, &result) != 0) return NULL;
  return result;
}

/* The module's entry point, found by name when node loads the shared object. */
napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "mallocTrim", SIZE_MAX /* NAPI_AUTO_LENGTH */, malloc_trim_js, NULL, &fn) != 0) return NULL;
  if (napi_set_named_property(env, exports, "mallocTrim", fn) != 0) return NULL;
  return exports;
}

/* Node-API version this module is written against (node asks for it when present). */
int32_t node_api_module_get_api_version_v1(void) { return 1; }
