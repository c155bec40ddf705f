/*
 * gzip members with libdeflate (the system library, -ldeflate), as a Node-API addon.
 *
 *   gzipCompress(input: Uint8Array, level: 0..12): Promise<Buffer>   (libuv threadpool)
 *   gzipCompressSync(input: Uint8Array, level: 0..12): Buffer         (calling thread)
 *   libdeflateVersion: string                                        (compile-time header)
 *
 * Each call produces one complete gzip member (RFC 1952) of the whole input.
 * Context-aware (NAPI_MODULE_INIT): loadable from worker_threads too.
 */
#include <node_api.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_LEVEL 0
#define MAX_LEVEL 12

/*
 * One compressor per thread, reused while the level stays the same. Measured with
 * libdeflate 1.14: a compressor is 198 KiB (level 1), 652 KiB (levels 2-9), 8.6 MiB (10-12);
 * alloc+free costs ~3 us at levels 1-9 against ~1 ms to compress a 1 MiB block, so reuse is
 * not about speed there; it avoids re-faulting those pages per block and makes levels 10-12
 * (~0.1 ms to allocate) cheap per call. Freed by the pthread key destructor when a thread
 * exits (JS worker threads); libuv pool threads keep theirs for the life of the process.
 */
typedef struct {
  struct libdeflate_compressor *c;
  int level;
} cached_compressor;

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_key_ok = 0;

static void cached_free(void *p) {
  cached_compressor *cc = p;
  libdeflate_free_compressor(cc->c);
  free(cc);
}

static void key_init(void) { g_key_ok = pthread_key_create(&g_key, cached_free) == 0; }

/* NULL only when out of memory (the level was validated before). */
static struct libdeflate_compressor *thread_compressor(int level) {
  pthread_once(&g_once, key_init);
  if (!g_key_ok) return NULL;
  cached_compressor *cc = pthread_getspecific(g_key);
  if (cc == NULL) {
    cc = calloc(1, sizeof *cc);
    if (cc == NULL) return NULL;
    if (pthread_setspecific(g_key, cc) != 0) {
      free(cc);
      return NULL;
    }
  }
  if (cc->c != NULL && cc->level == level) return cc->c;
  libdeflate_free_compressor(cc->c);
  cc->c = libdeflate_alloc_compressor(level);
  cc->level = level;
  return cc->c;
}

typedef enum { ST_OK = 0, ST_NOMEM, ST_FAILED } status_t;

/* Compress into a malloc'd buffer of the worst-case size; *out is owned by the caller. */
static status_t compress_member(const uint8_t *in, size_t n, int level, uint8_t **out, size_t *out_n) {
  static const uint8_t empty[1] = {0};
  struct libdeflate_compressor *c = thread_compressor(level);
  if (c == NULL) return ST_NOMEM;
  size_t bound = libdeflate_gzip_compress_bound(c, n);
  uint8_t *buf = malloc(bound);
  if (buf == NULL) return ST_NOMEM;
  size_t m = libdeflate_gzip_compress(c, n ? (const void *)in : (const void *)empty, n, buf, bound);
  if (m == 0) {
    /* Cannot happen with a bound-sized buffer; reported rather than trusted. */
    free(buf);
    return ST_FAILED;
  }
  *out = buf;
  *out_n = m;
  return ST_OK;
}

static napi_value make_error(napi_env env, status_t st) {
  napi_value code, msg, err;
  const char *c = st == ST_NOMEM ? "DEFLATE_OUT_OF_MEMORY" : "DEFLATE_FAILED";
  const char *m = st == ST_NOMEM ? "libdeflate: out of memory" : "libdeflate: compression failed";
  napi_create_string_utf8(env, c, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, m, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &err);
  return err;
}

/* Validates (input, level); on failure a TypeError/RangeError is pending and 0 is returned. */
static int parse_args(napi_env env, napi_callback_info info, napi_value *input, const uint8_t **data, size_t *len,
                      int *level) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  bool is_ta = false;
  if (argc >= 1) napi_is_typedarray(env, argv[0], &is_ta);
  napi_typedarray_type type;
  void *ptr = NULL;
  if (is_ta) {
    napi_value ab;
    size_t off;
    if (napi_get_typedarray_info(env, argv[0], &type, len, &ptr, &ab, &off) != napi_ok) return 0;
  }
  if (!is_ta || type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "gzipCompress: input must be a Buffer or Uint8Array");
    return 0;
  }
  napi_valuetype vt = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &vt);
  if (vt != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "gzipCompress: level must be a number");
    return 0;
  }
  double d;
  napi_get_value_double(env, argv[1], &d);
  if (!(d >= MIN_LEVEL && d <= MAX_LEVEL) || d != (double)(int)d) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "gzipCompress: level must be an integer in 0..12");
    return 0;
  }
  *input = argv[0];
  *data = ptr;
  *level = (int)d;
  return 1;
}

static napi_value gzip_compress_sync(napi_env env, napi_callback_info info) {
  napi_value input, result;
  const uint8_t *data;
  size_t len;
  int level;
  if (!parse_args(env, info, &input, &data, &len, &level)) return NULL;
  uint8_t *out;
  size_t out_n;
  status_t st = compress_member(data, len, level, &out, &out_n);
  if (st != ST_OK) {
    napi_throw(env, make_error(env, st));
    return NULL;
  }
  napi_status s = napi_create_buffer_copy(env, out_n, out, NULL, &result);
  free(out);
  if (s != napi_ok) {
    napi_throw(env, make_error(env, ST_NOMEM));
    return NULL;
  }
  return result;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref; /* keeps the input alive (not immutable: callers must not touch it) */
  const uint8_t *data;
  size_t len;
  int level;
  uint8_t *out;
  size_t out_n;
  status_t st;
} job_t;

static void job_execute(napi_env env, void *p) {
  (void)env;
  job_t *job = p;
  job->st = compress_member(job->data, job->len, job->level, &job->out, &job->out_n);
}

static void job_complete(napi_env env, napi_status status, void *p) {
  job_t *job = p;
  napi_value result;
  napi_delete_reference(env, job->input_ref);
  if (status != napi_ok) {
    napi_value code, msg, err;
    napi_create_string_utf8(env, "DEFLATE_FAILED", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "libdeflate: work item cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  } else if (job->st != ST_OK) {
    napi_reject_deferred(env, job->deferred, make_error(env, job->st));
  } else if (napi_create_buffer_copy(env, job->out_n, job->out, NULL, &result) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_reject_deferred(env, job->deferred, make_error(env, ST_NOMEM));
  }
  free(job->out);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value gzip_compress(napi_env env, napi_callback_info info) {
  napi_value input, promise, name;
  job_t tmp = {0};
  if (!parse_args(env, info, &input, &tmp.data, &tmp.len, &tmp.level)) return NULL;
  job_t *job = malloc(sizeof *job);
  if (job == NULL) {
    napi_throw(env, make_error(env, ST_NOMEM));
    return NULL;
  }
  *job = tmp;
  if (napi_create_reference(env, input, 1, &job->input_ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "mfb.gzipCompress", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, job_execute, job_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    /* Only on engine failure (e.g. env shutting down); a JS exception may be pending. */
    free(job);
    return NULL;
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn, version;
  napi_create_function(env, "gzipCompress", NAPI_AUTO_LENGTH, gzip_compress, NULL, &fn);
  napi_set_named_property(env, exports, "gzipCompress", fn);
  napi_create_function(env, "gzipCompressSync", NAPI_AUTO_LENGTH, gzip_compress_sync, NULL, &fn);
  napi_set_named_property(env, exports, "gzipCompressSync", fn);
  napi_create_string_utf8(env, LIBDEFLATE_VERSION_STRING, NAPI_AUTO_LENGTH, &version);
  napi_set_named_property(env, exports, "libdeflateVersion", version);
  return exports;
}
