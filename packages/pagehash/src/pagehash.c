/*
 * Per-page hashes of a database image, as a Node-API addon (docs/backup-format.md, 7.2):
 *
 *   hashPages(block, pageSize, firstPage, seed, fps, shas, parentFps, parentShas, parentCount): number
 *
 * For every whole page of `block` (page numbers firstPage, firstPage + 1, ...):
 *   - fps  (or null): the page's fingerprint, XXH3-64 with `seed`, 8 bytes big-endian;
 *   - shas: the page's SHA-256 (32 bytes), except that a page whose fingerprint equals the
 *     parent's fingerprint of the same page number (parentFps/parentShas, page N at N - 1,
 *     N <= parentCount) takes the parent's SHA-256 instead of being hashed again.
 * Returns how many pages were hashed with SHA-256 (the changed ones when a parent is given).
 *
 * SHA-256 is OpenSSL's, the copy inside the Node.js binary (its symbols are exported to
 * addons; headers ship in Node's include directory), through the low-level API: SHA256() of
 * OpenSSL 3 fetches an EVP implementation per call, ~20% slower on 4 KiB pages. XXH3 is the
 * header-only xxHash of Debian's libxxhash-dev, inlined. Synchronous: the callers run it in
 * worker threads (the snapshot reader) or on blocks of a few MiB. Context-aware.
 */
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define THROW(env, code, msg) \
  do { napi_throw_error((env), (code), (msg)); return NULL; } while (0)

/* Bytes of a Uint8Array/Buffer argument, or NULL data for JS null/undefined. */
static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len, int nullable) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (nullable && (t == napi_null || t == napi_undefined)) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type ty;
  size_t n;
  void *p;
  if (napi_get_typedarray_info(env, v, &ty, &n, &p, NULL, NULL) != napi_ok || ty != napi_uint8_array) return 0;
  *data = p;
  *len = n;
  return 1;
}

static int u32_of(napi_env env, napi_value v, uint32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

static napi_value hash_pages(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 9) THROW(env, "ERR_INVALID_ARG_TYPE", "hashPages takes 9 arguments");
  uint8_t *block, *fps, *shas, *pfps, *pshas;
  size_t block_n, fps_n, shas_n, pfps_n, pshas_n;
  uint32_t page_size, first_page, parent_count;
  uint64_t seed;
  bool lossless;
  if (!bytes_of(env, argv[0], &block, &block_n, 0)) THROW(env, "ERR_INVALID_ARG_TYPE", "block must be a Uint8Array");
  if (!u32_of(env, argv[1], &page_size) || page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)))
    THROW(env, "ERR_OUT_OF_RANGE", "pageSize must be a power of two from 512 to 65536");
  if (!u32_of(env, argv[2], &first_page) || first_page < 1) THROW(env, "ERR_OUT_OF_RANGE", "firstPage must be >= 1");
  if (napi_get_value_bigint_uint64(env, argv[3], &seed, &lossless) != napi_ok || !lossless) THROW(env, "ERR_INVALID_ARG_TYPE", "seed must be a 64-bit unsigned bigint");
  if (!bytes_of(env, argv[4], &fps, &fps_n, 1)) THROW(env, "ERR_INVALID_ARG_TYPE", "fps must be a Uint8Array or null");
  if (!bytes_of(env, argv[5], &shas, &shas_n, 0)) THROW(env, "ERR_INVALID_ARG_TYPE", "shas must be a Uint8Array");
  if (!bytes_of(env, argv[6], &pfps, &pfps_n, 1) || !bytes_of(env, argv[7], &pshas, &pshas_n, 1)) THROW(env, "ERR_INVALID_ARG_TYPE", "parent hashes must be Uint8Arrays or null");
  if (!u32_of(env, argv[8], &parent_count)) THROW(env, "ERR_INVALID_ARG_TYPE", "parentCount must be a number");

  if (block_n % page_size) THROW(env, "ERR_OUT_OF_RANGE", "block is not a whole number of pages");
  size_t n = block_n / page_size;
  if (fps && fps_n < n * 8) THROW(env, "ERR_OUT_OF_RANGE", "fps is too short");
  if (shas_n < n * 32) THROW(env, "ERR_OUT_OF_RANGE", "shas is too short");
  int with_parent = pfps != NULL && pshas != NULL && fps != NULL;
  if (with_parent && (pfps_n < (size_t)parent_count * 8 || pshas_n < (size_t)parent_count * 32)) THROW(env, "ERR_OUT_OF_RANGE", "parent hashes are shorter than parentCount");

  uint32_t hashed = 0;
  SHA256_CTX ctx;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *page = block + i * page_size;
    uint64_t pgno = (uint64_t)first_page + i;
    if (fps) {
      XXH64_canonical_t c;
      XXH64_canonicalFromHash(&c, XXH3_64bits_withSeed(page, page_size, seed));
      memcpy(fps + i * 8, c.digest, 8);
      if (with_parent && pgno <= parent_count && memcmp(pfps + (pgno - 1) * 8, c.digest, 8) == 0) {
        memcpy(shas + i * 32, pshas + (pgno - 1) * 32, 32);
        continue;
      }
    }
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, page, page_size);
    SHA256_Final(shas + i * 32, &ctx);
    hashed++;
  }
  napi_value out;
  napi_create_uint32(env, hashed, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "hashPages", NAPI_AUTO_LENGTH, hash_pages, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "hashPages", fn) != napi_ok) return NULL;
  napi_value v;
  char ver[16];
  snprintf(ver, sizeof ver, "%d.%d.%d", XXH_VERSION_MAJOR, XXH_VERSION_MINOR, XXH_VERSION_RELEASE);
  napi_create_string_utf8(env, ver, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "xxhashVersion", v);
  return exports;
}
