/* congestion/plugins/example_aimd.c — an example weft CC plugin (C ABI v1).
 *
 * Control law: TCP-style AIMD on a byte window.
 *   unmarked ACK:          cwnd += ai·MSS·acked/cwnd   (≈ ai MSS per RTT)
 *   ECN-marked ACK, loss
 *   or trim:               cwnd ← cwnd·beta, at most once per srtt
 *   timeout:               cwnd ← min_mss·MSS
 *   cwnd ∈ [min_mss·MSS, max_bdp·BDP]; initial cwnd = init_mss·MSS, or one
 *   BDP when init_mss = 0. Unpaced.
 * Parameters: ai_mss (1), beta (0.5), init_mss (0), min_mss (1), max_bdp (4).
 *
 * It exists to show the ABI (include/weft/cc_plugin.h, docs/cc-plugin-abi.md)
 * and to run through the same conformance tests as the built-ins; build it as
 * a MODULE library: cc -shared -fPIC -o libweft_cc_example_aimd.so example_aimd.c
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/cc_plugin.h"

typedef struct aimd {
  double cwnd;      /* bytes */
  double mss;       /* bytes */
  double min_cwnd;  /* bytes */
  double max_cwnd;  /* bytes */
  double ai_mss;
  double beta;
  int64_t srtt_ns;
  int64_t last_decrease_ns;
  int decreased;    /* a decrease has happened (last_decrease_ns valid) */
} aimd;

static int set_param(aimd* s, const char* key, size_t key_len, double v, double* init_mss, double* max_bdp) {
#define KEY_IS(k) (key_len == strlen(k) && strncmp(key, k, key_len) == 0)
  if (KEY_IS("ai_mss") && v >= 0) s->ai_mss = v;
  else if (KEY_IS("beta") && v > 0 && v < 1) s->beta = v;
  else if (KEY_IS("init_mss") && v >= 0) *init_mss = v;
  else if (KEY_IS("min_mss") && v > 0) s->min_cwnd = v * s->mss;
  else if (KEY_IS("max_bdp") && v > 0) *max_bdp = v;
  else return -1;
  return 0;
#undef KEY_IS
}

static int aimd_create(const weft_cc_context* ctx, const char* params, void** state, char* err, size_t err_len) {
  aimd* s = (aimd*)calloc(1, sizeof *s);
  if (s == NULL) {
    snprintf(err, err_len, "out of memory");
    return -1;
  }
  s->mss = (double)ctx->mss_bytes;
  s->min_cwnd = s->mss;
  s->ai_mss = 1;
  s->beta = 0.5;
  s->srtt_ns = ctx->base_rtt_ns;
  double init_mss = 0, max_bdp = 4;
  const double bdp = (double)ctx->link_rate_bps / 8 * (double)ctx->base_rtt_ns / 1e9;

  const char* p = params;
  while (p != NULL && *p != '\0') {
    const char* end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char* eq = memchr(p, '=', len);
    char* num_end = NULL;
    double v = eq ? strtod(eq + 1, &num_end) : 0;
    if (eq == NULL || num_end != p + len || !isfinite(v) ||
        set_param(s, p, (size_t)(eq - p), v, &init_mss, &max_bdp) != 0) {
      snprintf(err, err_len,
               "bad parameter '%.*s'; valid: ai_mss>=0, 0<beta<1, init_mss>=0, min_mss>0, max_bdp>0", (int)len, p);
      free(s);
      return -1;
    }
    p = end ? end + 1 : NULL;
  }
  s->max_cwnd = fmax(max_bdp * bdp, s->min_cwnd);
  s->cwnd = init_mss > 0 ? init_mss * s->mss : bdp;
  s->cwnd = fmin(fmax(s->cwnd, s->min_cwnd), s->max_cwnd);
  *state = s;
  return 0;
}

static void aimd_destroy(void* state) { free(state); }

static void clamp(aimd* s) { s->cwnd = fmin(fmax(s->cwnd, s->min_cwnd), s->max_cwnd); }

static void decrease(aimd* s, int64_t now) {
  if (s->decreased && now - s->last_decrease_ns < s->srtt_ns) return;
  s->cwnd *= s->beta;
  s->last_decrease_ns = now;
  s->decreased = 1;
  clamp(s);
}

static void aimd_on_send(void* state, const weft_cc_send* ev) { (void)state; (void)ev; }

static void aimd_on_ack(void* state, const weft_cc_ack* ev) {
  aimd* s = (aimd*)state;
  if (ev->rtt_ns > 0) s->srtt_ns = (3 * s->srtt_ns + ev->rtt_ns) / 4;
  if (ev->ecn_bytes > 0) {
    decrease(s, ev->now_ns);
  } else {
    s->cwnd += s->ai_mss * s->mss * (double)ev->acked_bytes / s->cwnd;
    clamp(s);
  }
}

static void aimd_on_loss(void* state, const weft_cc_loss* ev) { decrease((aimd*)state, ev->now_ns); }
static void aimd_on_trim(void* state, const weft_cc_trim* ev) { decrease((aimd*)state, ev->now_ns); }

static void aimd_on_timeout(void* state, const weft_cc_timeout* ev) {
  aimd* s = (aimd*)state;
  s->cwnd = s->min_cwnd;
  s->last_decrease_ns = ev->now_ns;
  s->decreased = 1;
}

static void aimd_on_credit(void* state, const weft_cc_credit* ev) { (void)state; (void)ev; }

static int64_t aimd_cwnd(const void* state) { return (int64_t)((const aimd*)state)->cwnd; }
static double aimd_rate(const void* state) { (void)state; return 0.0; }

static const weft_cc_plugin_v1 kPlugin = {
    .abi_version = WEFT_CC_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(weft_cc_plugin_v1),
    .name = "example_aimd",
    .create = aimd_create,
    .destroy = aimd_destroy,
    .on_send = aimd_on_send,
    .on_ack = aimd_on_ack,
    .on_loss = aimd_on_loss,
    .on_timeout = aimd_on_timeout,
    .on_credit = aimd_on_credit,
    .on_trim = aimd_on_trim,
    .cwnd_bytes = aimd_cwnd,
    .pacing_rate_bps = aimd_rate,
};

__attribute__((visibility("default"))) const weft_cc_plugin_v1* weft_cc_plugin_entry(void) { return &kPlugin; }
