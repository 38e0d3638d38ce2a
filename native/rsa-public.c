/*
 * The RSA public-key operation (RSAVP1, RFC 8017 §5.2.2: s^e mod n) for Node.js, as a Node-API module with no
 * build system (scripts/build-native.mjs). src/pki/rsa-native.ts explains why Orchard uses it and does the rest
 * of a PKCS #1 v1.5 verification (the encoding check) itself.
 *
 * Only public keys and public values pass through here. The OpenSSL functions are those of the node binary
 * (which exports its OpenSSL), or of the libcrypto it is linked to; like the Node-API functions they are
 * declared below rather than taken from headers a deployment machine may not have. Their signatures are those
 * of OpenSSL 1.1 and 3.x, unchanged between them. The module is loaded with RTLD_NOW, so a node without these
 * symbols refuses to load it (and Orchard uses node:crypto) instead of failing at the first call.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* an enum in node_api.h; 0 is napi_ok */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);
typedef void (*napi_finalize)(napi_env env, void *data, void *hint);
enum { napi_ok = 0, napi_external_type = 8, napi_uint8_array_type = 1 };

extern napi_status napi_create_function(napi_env env, const char *utf8name, size_t length, napi_callback cb, void *data, napi_value *result);
extern napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name, napi_value value);
extern napi_status napi_get_cb_info(napi_env env, napi_callback_info cbinfo, size_t *argc, napi_value *argv, napi_value *this_arg, void **data);
extern napi_status napi_typeof(napi_env env, napi_value value, int *result);
extern napi_status napi_is_typedarray(napi_env env, napi_value value, bool *result);
extern napi_status napi_get_typedarray_info(napi_env env, napi_value typedarray, int *type, size_t *length, void **data, napi_value *arraybuffer, size_t *byte_offset);
extern napi_status napi_create_external(napi_env env, void *data, napi_finalize finalize_cb, void *finalize_hint, napi_value *result);
extern napi_status napi_get_value_external(napi_env env, napi_value value, void **result);
extern napi_status napi_adjust_external_memory(napi_env env, int64_t change_in_bytes, int64_t *adjusted_value);
extern napi_status napi_create_int32(napi_env env, int32_t value, napi_value *result);
extern napi_status napi_throw_type_error(napi_env env, const char *code, const char *msg);

typedef struct rsa_st RSA;
typedef struct bignum_st BIGNUM;
extern RSA *RSA_new(void);
extern void RSA_free(RSA *rsa);
extern int RSA_set0_key(RSA *r, BIGNUM *n, BIGNUM *e, BIGNUM *d);
extern int RSA_size(const RSA *rsa);
extern int RSA_public_decrypt(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding);
extern BIGNUM *BN_bin2bn(const unsigned char *s, int len, BIGNUM *ret);
extern void BN_free(BIGNUM *a);
extern void ERR_clear_error(void);
#define RSA_NO_PADDING 3

/* Bounds on what a key may be: up to 16,384-bit moduli (OpenSSL's own limit), exponents up to 64 bits. */
#define MAX_MODULUS_BYTES 2048
#define MAX_EXPONENT_BYTES 8
/* What a kept key costs in native memory, roughly (RSA structure, n, e, and the Montgomery context OpenSSL
 * caches on first use), reported to V8 so that it collects unreferenced keys as it would their memory. */
#define KEY_MEMORY_BASE 768

typedef struct {
  RSA *rsa;
  int64_t reported;
} kept_key;

static bool bytes_arg(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  bool is_typed = false;
  int type = -1;
  void *p = NULL;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return false;
  if (napi_get_typedarray_info(env, value, &type, length, &p, &buffer, &offset) != napi_ok || type != napi_uint8_array_type) return false;
  *data = p;
  return true;
}

/* A key from the big-endian magnitudes of n and e; NULL when they are out of bounds or OpenSSL refuses them. */
static RSA *make_key(const unsigned char *n, size_t n_len, const unsigned char *e, size_t e_len) {
  if (n_len == 0 || n_len > MAX_MODULUS_BYTES || e_len == 0 || e_len > MAX_EXPONENT_BYTES) return NULL;
  RSA *rsa = RSA_new();
  BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
  BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
  if (rsa == NULL || bn_n == NULL || bn_e == NULL || RSA_set0_key(rsa, bn_n, bn_e, NULL) != 1) {
    BN_free(bn_n);
    BN_free(bn_e);
    RSA_free(rsa);
    ERR_clear_error();
    return NULL;
  }
  return rsa;
}

/* RSAVP1 into `out` (which must hold RSA_size bytes): the number of bytes written, or -1. */
static int public_op(RSA *rsa, const unsigned char *in, size_t in_len, unsigned char *out, size_t out_len) {
  int size = RSA_size(rsa);
  if (size <= 0 || in_len != (size_t)size || out_len < (size_t)size) return -1;
  int written = RSA_public_decrypt((int)in_len, in, out, rsa, RSA_NO_PADDING);
  /* A failure (a value not below n) leaves an error on this thread's OpenSSL queue, where node:crypto would
   * find it after its own next operation and report it as that operation's: clear it here. */
  if (written < 0) ERR_clear_error();
  return written;
}

static void finalize_key(napi_env env, void *data, void *hint) {
  (void)hint;
  kept_key *key = data;
  int64_t ignored;
  napi_adjust_external_memory(env, -key->reported, &ignored);
  RSA_free(key->rsa);
  free(key);
}

static napi_value int32(napi_env env, int32_t v) {
  napi_value result;
  return napi_create_int32(env, v, &result) == napi_ok ? result : NULL;
}

/* rsaPublicKey(n: Uint8Array, e: Uint8Array): an external holding the key, or -1 when it cannot be made. */
static napi_value rsa_key_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  unsigned char *n, *e;
  size_t n_len, e_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || !bytes_arg(env, argv[0], &n, &n_len) ||
      !bytes_arg(env, argv[1], &e, &e_len)) {
    napi_throw_type_error(env, NULL, "rsaPublicKey(n, e) takes two Uint8Arrays");
    return NULL;
  }
  RSA *rsa = make_key(n, n_len, e, e_len);
  if (rsa == NULL) return int32(env, -1);
  kept_key *key = malloc(sizeof *key);
  if (key == NULL) {
    RSA_free(rsa);
    return int32(env, -1);
  }
  key->rsa = rsa;
  key->reported = KEY_MEMORY_BASE + 4 * (int64_t)n_len;
  napi_value result;
  if (napi_create_external(env, key, finalize_key, NULL, &result) != napi_ok) {
    RSA_free(rsa);
    free(key);
    return NULL;
  }
  int64_t ignored;
  napi_adjust_external_memory(env, key->reported, &ignored);
  return result;
}

/* rsaPublicOp(key, input: Uint8Array, output: Uint8Array): bytes written to output, or -1. */
static napi_value rsa_op_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int type = -1;
  void *data = NULL;
  unsigned char *in, *out;
  size_t in_len, out_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || napi_typeof(env, argv[0], &type) != napi_ok ||
      type != napi_external_type || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL ||
      !bytes_arg(env, argv[1], &in, &in_len) || !bytes_arg(env, argv[2], &out, &out_len)) {
    napi_throw_type_error(env, NULL, "rsaPublicOp(key, input, output) takes a key from rsaPublicKey and two Uint8Arrays");
    return NULL;
  }
  return int32(env, public_op(((kept_key *)data)->rsa, in, in_len, out, out_len));
}

/* rsaPublicOpOnce(n, e, input, output): the same without keeping a key (for a key used once). */
static napi_value rsa_op_once_js(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  unsigned char *n, *e, *in, *out;
  size_t n_len, e_len, in_len, out_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4 || !bytes_arg(env, argv[0], &n, &n_len) ||
      !bytes_arg(env, argv[1], &e, &e_len) || !bytes_arg(env, argv[2], &in, &in_len) || !bytes_arg(env, argv[3], &out, &out_len)) {
    napi_throw_type_error(env, NULL, "rsaPublicOpOnce(n, e, input, output) takes four Uint8Arrays");
    return NULL;
  }
  RSA *rsa = make_key(n, n_len, e, e_len);
  if (rsa == NULL) return int32(env, -1);
  int written = public_op(rsa, in, in_len, out, out_len);
  RSA_free(rsa);
  return int32(env, written);
}

static bool export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, SIZE_MAX /* NAPI_AUTO_LENGTH */, cb, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, name, fn) == napi_ok;
}

/* The module's entry point, found by name when node loads the shared object. */
napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  if (!export_fn(env, exports, "rsaPublicKey", rsa_key_js) || !export_fn(env, exports, "rsaPublicOp", rsa_op_js) ||
      !export_fn(env, exports, "rsaPublicOpOnce", rsa_op_once_js)) {
    return NULL;
  }
  return exports;
}

/* Node-API version this module is written against (napi_adjust_external_memory is version 1). */
int32_t node_api_module_get_api_version_v1(void) { return 1; }
