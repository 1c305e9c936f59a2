/* Built-in functions of the mapping language (docs/transform.md lists
 * them with the documentation they come from). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

#define FAIL(msg) do { *why = (msg); return false; } while (0)

static bool num(const tval *v, double *d)
{
    if (v->k == TV_INT)
        *d = (double)v->u.i;
    else if (v->k == TV_FLOAT)
        *d = v->u.f;
    else
        return false;
    return true;
}

static bool ret_f(double d, tval *out, const char **why)
{
    if (!isfinite(d))
        FAIL("result is not a finite number");
    out->k = TV_FLOAT;
    out->u.f = d;
    return true;
}

/* An integral double as an int when it fits, else as a float. */
static bool ret_integral(double d, tval *out, const char **why)
{
    if (!isfinite(d))
        FAIL("result is not a finite number");
    if (d >= -9.2233720368547758e18 && d < 9.2233720368547758e18) {
        out->k = TV_INT;
        out->u.i = (int64_t)d;
    } else {
        out->k = TV_FLOAT;
        out->u.f = d;
    }
    return true;
}

/* ---- unit conversions (one number in, a float out) ----------------------- */

#define UNIT(fn, expr_)                                                            \
    static bool fn(const tval *args, size_t n, arena *a, tval *out, const char **why) \
    {                                                                              \
        (void)n;                                                                   \
        (void)a;                                                                   \
        double x;                                                                  \
        if (!num(&args[0], &x))                                                    \
            FAIL(#fn "() needs a number");                                         \
        return ret_f(expr_, out, why);                                             \
    }

UNIT(cToF, x * 9.0 / 5.0 + 32.0)
UNIT(fToC, (x - 32.0) * 5.0 / 9.0)
UNIT(psiToBar, x * 0.0689476)
UNIT(barToPsi, x / 0.0689476)
UNIT(inToCm, x * 2.54)
UNIT(cmToIn, x / 2.54)
UNIT(ftToM, x * 0.3048)
UNIT(mToFt, x / 0.3048)
UNIT(lbToKg, x * 0.453592)
UNIT(kgToLb, x / 0.453592)
UNIT(galToL, x * 3.78541)
UNIT(lToGal, x / 3.78541)

/* ---- math ------------------------------------------------------------------ */

#define MATH1(fn, cexpr)                                                             \
    static bool fn(const tval *args, size_t n, arena *a, tval *out, const char **why) \
    {                                                                                \
        (void)n;                                                                     \
        (void)a;                                                                     \
        double x;                                                                    \
        if (!num(&args[0], &x))                                                      \
            FAIL("a math function needs a number");                                  \
        return ret_f(cexpr, out, why);                                               \
    }
#define MATH2(fn, cexpr)                                                             \
    static bool fn(const tval *args, size_t n, arena *a, tval *out, const char **why) \
    {                                                                                \
        (void)n;                                                                     \
        (void)a;                                                                     \
        double x, y;                                                                 \
        if (!num(&args[0], &x) || !num(&args[1], &y))                                \
            FAIL("a math function needs numbers");                                   \
        return ret_f(cexpr, out, why);                                               \
    }

MATH1(f_sqrt, sqrt(x))
MATH1(f_cbrt, cbrt(x))
MATH1(f_ln, log(x))
MATH1(f_log2, log2(x))
MATH1(f_log10, log10(x))
MATH1(f_exp, exp(x))
MATH1(f_exp2, exp2(x))
MATH1(f_cos, cos(x))
MATH1(f_sin, sin(x))
MATH1(f_tan, tan(x))
MATH1(f_acos, acos(x))
MATH1(f_asin, asin(x))
MATH1(f_atan, atan(x))
MATH2(f_log, log(x) / log(y))
MATH2(f_pow, pow(x, y))
MATH2(f_atan2, atan2(x, y))
MATH2(f_hypot, hypot(x, y))

static bool f_abs(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    (void)a;
    if (args[0].k == TV_INT && args[0].u.i != INT64_MIN) {
        out->k = TV_INT;
        out->u.i = args[0].u.i < 0 ? -args[0].u.i : args[0].u.i;
        return true;
    }
    double x;
    if (!num(&args[0], &x))
        FAIL("abs() needs a number");
    return ret_f(fabs(x), out, why);
}

#define ROUNDING(fn, cfn)                                                            \
    static bool fn(const tval *args, size_t n, arena *a, tval *out, const char **why) \
    {                                                                                \
        (void)n;                                                                     \
        (void)a;                                                                     \
        if (args[0].k == TV_INT) {                                                   \
            *out = args[0];                                                          \
            return true;                                                             \
        }                                                                            \
        double x;                                                                    \
        if (!num(&args[0], &x))                                                      \
            FAIL(#cfn "() needs a number");                                          \
        return ret_integral(cfn(x), out, why);                                       \
    }

ROUNDING(f_floor, floor)
ROUNDING(f_ceil, ceil)
ROUNDING(f_round, round)

static bool f_round_n(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    (void)a;
    double x;
    if (!num(&args[0], &x))
        FAIL("round_n() needs a number");
    if (args[1].k != TV_INT || args[1].u.i < 0 || args[1].u.i > 15)
        FAIL("round_n() takes 0 to 15 decimal places");
    double m = pow(10.0, (double)args[1].u.i);
    double r = round(x * m) / m;
    return ret_f(isfinite(r) ? r : x, out, why);
}

static bool f_scale(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    (void)a;
    double v[5];
    for (int i = 0; i < 5; i++)
        if (!num(&args[i], &v[i]))
            FAIL("scale() needs five numbers");
    if (v[2] == v[1])
        FAIL("scale(): the source range is empty");
    return ret_f(v[3] + (v[0] - v[1]) * (v[4] - v[3]) / (v[2] - v[1]), out, why);
}

/* ---- min, max -------------------------------------------------------------- */

static bool min_or_max(const tval *args, size_t n, tval *out, const char **why, bool want_max)
{
    if (n == 1 && args[0].k == TV_TUPLE) {
        n = args[0].u.t.n;
        args = args[0].u.t.items;
    }
    if (n == 0)
        FAIL(want_max ? "max() of nothing" : "min() of nothing");
    const tval *best = NULL;
    for (size_t i = 0; i < n; i++) {
        double x, b;
        if (!num(&args[i], &x))
            FAIL(want_max ? "max() needs numbers" : "min() needs numbers");
        if (!best || (num(best, &b) && (want_max ? x > b : x < b)))
            best = &args[i];
    }
    *out = *best;
    return true;
}

static bool f_min(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)a;
    return min_or_max(args, n, out, why, false);
}

static bool f_max(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)a;
    return min_or_max(args, n, out, why, true);
}

/* ---- strings and tuples ---------------------------------------------------- */

static size_t utf8_chars(const char *s, size_t len)
{
    size_t c = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

/* Byte offset of the ch-th character (len when past the end). */
static size_t utf8_offset(const char *s, size_t len, size_t ch)
{
    size_t c = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (c == ch)
                return i;
            c++;
        }
    return len;
}

static bool f_len(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)a;
    out->k = TV_INT;
    if (n > 1) {
        out->u.i = (int64_t)n;
        return true;
    }
    if (args[0].k == TV_STRING)
        out->u.i = (int64_t)utf8_chars(args[0].u.s.p, args[0].u.s.len);
    else if (args[0].k == TV_TUPLE)
        out->u.i = (int64_t)args[0].u.t.n;
    else
        FAIL("len() needs a string or a tuple");
    return true;
}

static bool ret_str(arena *a, const char *p, size_t len, tval *out, const char **why)
{
    char *s = aioe__transform_arena_alloc(a, len + 1);
    if (!s)
        FAIL("out of memory");
    memcpy(s, p, len);
    s[len] = 0;
    out->k = TV_STRING;
    out->u.s.p = s;
    out->u.s.len = len;
    return true;
}

static bool change_case(const tval *args, arena *a, tval *out, const char **why, bool up)
{
    if (args[0].k != TV_STRING)
        FAIL("str::to_lowercase/to_uppercase need a string");
    if (!ret_str(a, args[0].u.s.p, args[0].u.s.len, out, why))
        return false;
    char *s = (char *)out->u.s.p;
    for (size_t i = 0; i < out->u.s.len; i++)
        if ((unsigned char)s[i] < 0x80)
            s[i] = (char)(up ? toupper((unsigned char)s[i]) : tolower((unsigned char)s[i]));
    return true;
}

static bool f_lower(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    return change_case(args, a, out, why, false);
}

static bool f_upper(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    return change_case(args, a, out, why, true);
}

static bool f_trim(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    (void)a;
    if (args[0].k != TV_STRING)
        FAIL("str::trim() needs a string");
    const char *p = args[0].u.s.p;
    size_t len = args[0].u.s.len;
    while (len && isspace((unsigned char)p[0]))
        p++, len--;
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    out->k = TV_STRING;
    out->u.s.p = p;
    out->u.s.len = len;
    return true;
}

static bool f_from(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    const char *p;
    size_t len;
    if (!aioe__transform_tval_to_text(a, &args[0], &p, &len))
        FAIL("out of memory");
    out->k = TV_STRING;
    out->u.s.p = p;
    out->u.s.len = len;
    return true;
}

static bool f_substring(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    (void)a;
    if (args[0].k != TV_STRING || args[1].k != TV_INT || args[2].k != TV_INT)
        FAIL("str::substring() takes a string and two integer indexes");
    int64_t st = args[1].u.i, en = args[2].u.i;
    if (st < 0 || en < st)
        FAIL("str::substring(): indexes must satisfy 0 <= start <= end");
    const char *p = args[0].u.s.p;
    size_t len = args[0].u.s.len;
    size_t b = utf8_offset(p, len, (size_t)st), e = utf8_offset(p, len, (size_t)en);
    out->k = TV_STRING;
    out->u.s.p = p + b;
    out->u.s.len = e - b;
    return true;
}

static bool f_contains(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    (void)a;
    if (args[0].k != TV_TUPLE)
        FAIL("contains() needs a tuple first");
    out->k = TV_BOOL;
    out->u.b = false;
    for (size_t i = 0; i < args[0].u.t.n && !out->u.b; i++)
        out->u.b = aioe__transform_tval_equal(&args[0].u.t.items[i], &args[1]);
    return true;
}

static bool f_contains_any(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    (void)a;
    if (args[0].k != TV_TUPLE || args[1].k != TV_TUPLE)
        FAIL("contains_any() needs two tuples");
    out->k = TV_BOOL;
    out->u.b = false;
    for (size_t i = 0; i < args[0].u.t.n && !out->u.b; i++)
        for (size_t j = 0; j < args[1].u.t.n && !out->u.b; j++)
            out->u.b = aioe__transform_tval_equal(&args[0].u.t.items[i], &args[1].u.t.items[j]);
    return true;
}

static bool f_typeof(const tval *args, size_t n, arena *a, tval *out, const char **why)
{
    (void)n;
    (void)a;
    (void)why;
    const char *t = args[0].k == TV_BOOL ? "boolean" : aioe__transform_tval_kind_name(args[0].k);
    out->k = TV_STRING;
    out->u.s.p = t;
    out->u.s.len = strlen(t);
    return true;
}

static const func funcs[] = {
    { "if", 3, 3, NULL },
    { "min", 1, -1, f_min },
    { "max", 1, -1, f_max },
    { "len", 1, -1, f_len },
    { "floor", 1, 1, f_floor },
    { "round", 1, 1, f_round },
    { "ceil", 1, 1, f_ceil },
    { "round_n", 2, 2, f_round_n },
    { "scale", 5, 5, f_scale },
    { "abs", 1, 1, f_abs },
    { "cToF", 1, 1, cToF },
    { "fToC", 1, 1, fToC },
    { "psiToBar", 1, 1, psiToBar },
    { "barToPsi", 1, 1, barToPsi },
    { "inToCm", 1, 1, inToCm },
    { "cmToIn", 1, 1, cmToIn },
    { "ftToM", 1, 1, ftToM },
    { "mToFt", 1, 1, mToFt },
    { "lbToKg", 1, 1, lbToKg },
    { "kgToLb", 1, 1, kgToLb },
    { "galToL", 1, 1, galToL },
    { "lToGal", 1, 1, lToGal },
    { "math::abs", 1, 1, f_abs },
    { "math::sqrt", 1, 1, f_sqrt },
    { "math::cbrt", 1, 1, f_cbrt },
    { "math::ln", 1, 1, f_ln },
    { "math::log2", 1, 1, f_log2 },
    { "math::log10", 1, 1, f_log10 },
    { "math::log", 2, 2, f_log },
    { "math::exp", 1, 1, f_exp },
    { "math::exp2", 1, 1, f_exp2 },
    { "math::pow", 2, 2, f_pow },
    { "math::cos", 1, 1, f_cos },
    { "math::sin", 1, 1, f_sin },
    { "math::tan", 1, 1, f_tan },
    { "math::acos", 1, 1, f_acos },
    { "math::asin", 1, 1, f_asin },
    { "math::atan", 1, 1, f_atan },
    { "math::atan2", 2, 2, f_atan2 },
    { "math::hypot", 2, 2, f_hypot },
    { "str::to_lowercase", 1, 1, f_lower },
    { "str::to_uppercase", 1, 1, f_upper },
    { "str::trim", 1, 1, f_trim },
    { "str::from", 1, 1, f_from },
    { "str::substring", 3, 3, f_substring },
    { "contains", 2, 2, f_contains },
    { "contains_any", 2, 2, f_contains_any },
    { "typeof", 1, 1, f_typeof },
};

/* Documented for data flow graphs only. */
static const char *const graphs_only_funcs[] = {
    "str::regex_matches", "str::regex_replace", "average", "sum", "count", "first", "last",
    NULL
};

const func *aioe__transform_func_lookup(const char *name, size_t len, bool *graphs_only)
{
    *graphs_only = false;
    for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, name, len) == 0)
            return &funcs[i];
    for (size_t i = 0; graphs_only_funcs[i]; i++)
        if (strlen(graphs_only_funcs[i]) == len && memcmp(graphs_only_funcs[i], name, len) == 0)
            *graphs_only = true;
    return NULL;
}
