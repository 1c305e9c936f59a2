/* Syntax checks and formatting for the CloudEvents stage: RFC 3986 URIs,
 * RFC 3339 timestamps, the CloudEvents String type, structured-mode
 * content types. Pure functions over (pointer, length); no allocation. */
#include <arpa/inet.h>
#include <string.h>

#include "cloudevents_internal.h"

/* ---- character classes ------------------------------------------- */

static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_hex(unsigned char c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}
static bool is_unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 character classes, one bit each (a table: this runs on every
 * message). */
enum {
    C_UNRESERVED = 1, /* ALPHA DIGIT - . _ ~ */
    C_SUB_DELIM = 2,  /* ! $ & ' ( ) * + , ; = */
    C_COLON = 4,
    C_AT = 8,
    C_SLASH = 16,
    C_QUESTION = 32,
};
static const unsigned char uri_class[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  2,  0,  0,  2,  0,  2,  2,  2,  2,  2,  2,  2,  1,  1, 16,
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  4,  2,  0,  2,  0, 32,
     8,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  0,  0,  0,  0,  1,
     0,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  0,  0,  0,  1,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

static bool is_sub_delim(unsigned char c) { return (uri_class[c] & C_SUB_DELIM) != 0; }

/* Every byte is unreserved, a sub-delim, a pct-encoded triplet or in the
 * extra classes (C_COLON, C_AT, C_SLASH, C_QUESTION). */
static bool uri_run(const char *s, size_t n, unsigned extra)
{
    unsigned allowed = C_UNRESERVED | C_SUB_DELIM | extra;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (uri_class[c] & allowed) continue;
        if (c == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
                !is_hex((unsigned char)s[i + 2]))
                return false;
            i += 2;
            continue;
        }
        return false;
    }
    return true;
}

static const char *memchr_c(const char *s, size_t n, char c)
{
    return n ? memchr(s, c, n) : NULL;
}

/* ---- RFC 3986 ----------------------------------------------------- */

static bool valid_ip_literal(const char *s, size_t n) /* between [ and ] */
{
    if (n == 0) return false;
    if (s[0] == 'v' || s[0] == 'V') { /* IPvFuture */
        size_t i = 1;
        while (i < n && is_hex((unsigned char)s[i])) i++;
        if (i == 1 || i >= n || s[i] != '.') return false;
        i++;
        if (i >= n) return false;
        for (; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!is_unreserved(c) && !is_sub_delim(c) && c != ':') return false;
        }
        return true;
    }
    char tmp[INET6_ADDRSTRLEN + 1];
    if (n >= sizeof tmp) return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    unsigned char addr[16];
    return inet_pton(AF_INET6, tmp, addr) == 1;
}

static bool valid_port(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit((unsigned char)s[i])) return false;
    return true;
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static bool valid_authority(const char *s, size_t n)
{
    const char *at = memchr_c(s, n, '@');
    if (at) {
        if (!uri_run(s, (size_t)(at - s), C_COLON)) return false;
        n -= (size_t)(at - s) + 1;
        s = at + 1;
    }
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) return false;
        if (!valid_ip_literal(s + 1, (size_t)(close - s - 1))) return false;
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest == 0) return true;
        return close[1] == ':' && valid_port(close + 2, rest - 1);
    }
    const char *colon = memchr_c(s, n, ':');
    size_t host_len = colon ? (size_t)(colon - s) : n;
    if (!uri_run(s, host_len, 0)) return false; /* reg-name (IPv4 included) */
    return !colon || valid_port(colon + 1, n - host_len - 1);
}

static bool valid_uri(const char *s, size_t n, bool require_scheme)
{
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    bool has_scheme = false;
    size_t i = 0;
    if (n > 0 && is_alpha((unsigned char)s[0])) {
        i = 1;
        while (i < n && (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) ||
                         s[i] == '+' || s[i] == '-' || s[i] == '.'))
            i++;
        if (i < n && s[i] == ':') has_scheme = true;
    }
    if (require_scheme && !has_scheme) return false;
    size_t start = has_scheme ? i + 1 : 0;
    const char *p = s + start;
    size_t len = n - start;

    const char *hash = memchr_c(p, len, '#');
    if (hash) {
        size_t flen = len - (size_t)(hash - p) - 1;
        if (!uri_run(hash + 1, flen, C_COLON | C_AT | C_SLASH | C_QUESTION)) return false;
        len = (size_t)(hash - p);
    }
    const char *q = memchr_c(p, len, '?');
    if (q) {
        size_t qlen = len - (size_t)(q - p) - 1;
        if (!uri_run(q + 1, qlen, C_COLON | C_AT | C_SLASH | C_QUESTION)) return false;
        len = (size_t)(q - p);
    }

    if (len >= 2 && p[0] == '/' && p[1] == '/') {
        const char *slash = memchr_c(p + 2, len - 2, '/');
        size_t alen = slash ? (size_t)(slash - p - 2) : len - 2;
        if (!valid_authority(p + 2, alen)) return false;
        /* path-abempty */
        return uri_run(p + 2 + alen, len - 2 - alen, C_COLON | C_AT | C_SLASH);
    }
    if (!has_scheme && len > 0 && p[0] != '/') {
        /* path-noscheme: the first segment has no ':' */
        const char *slash = memchr_c(p, len, '/');
        size_t seg = slash ? (size_t)(slash - p) : len;
        if (!uri_run(p, seg, C_AT)) return false;
        return uri_run(p + seg, len - seg, C_COLON | C_AT | C_SLASH);
    }
    return uri_run(p, len, C_COLON | C_AT | C_SLASH);
}

bool aioe_ce_is_uri_reference(const char *s, size_t len)
{
    return s != NULL && valid_uri(s, len, false);
}

bool aioe_ce_is_absolute_uri(const char *s, size_t len)
{
    return s != NULL && valid_uri(s, len, true);
}

/* ---- RFC 3339 ----------------------------------------------------- */

static bool digits(const char *s, size_t n, unsigned *v)
{
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) return false;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    *v = x;
    return true;
}

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

bool aioe_ce_is_rfc3339(const char *s, size_t n)
{
    unsigned y, mo, d, h, mi, sec, oh, om;
    /* YYYY-MM-DDTHH:MM:SS is 19 bytes; the offset adds at least one. */
    if (s == NULL || n < 20) return false;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
        s[16] != ':' || !digits(s + 17, 2, &sec))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return false;
    /* time-second allows 60 for a leap second; whether one happened at
     * that instant is not checked (that needs a leap-second table). */
    if (h > 23 || mi > 59 || sec > 60) return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t f = ++i;
        while (i < n && is_digit((unsigned char)s[i])) i++;
        if (i == f) return false;
    }
    if (i >= n) return false;
    if (s[i] == 'Z' || s[i] == 'z') return i + 1 == n;
    if (s[i] != '+' && s[i] != '-') return false;
    if (n - i != 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
        !digits(s + i + 4, 2, &om))
        return false;
    return oh <= 23 && om <= 59;
}

/* Days since 1970-01-01 to civil date (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

bool aioe_ce_format_time(const struct timespec *ts, char buf[AIOE_CE_TIME_LEN + 1])
{
    int64_t secs = (int64_t)ts->tv_sec;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L) return false;
    put_digits(buf, (unsigned)y, 4);
    buf[4] = '-';
    put_digits(buf + 5, m, 2);
    buf[7] = '-';
    put_digits(buf + 8, d, 2);
    buf[10] = 'T';
    put_digits(buf + 11, (unsigned)(rem / 3600), 2);
    buf[13] = ':';
    put_digits(buf + 14, (unsigned)(rem / 60 % 60), 2);
    buf[16] = ':';
    put_digits(buf + 17, (unsigned)(rem % 60), 2);
    buf[19] = '.';
    put_digits(buf + 20, (unsigned)(ts->tv_nsec / 1000), 6);
    buf[26] = 'Z';
    buf[27] = '\0';
    return true;
}

/* ---- CloudEvents String and content types ------------------------- */

/* True when the 8 bytes at p are all printable ASCII (0x20..0x7e): no high
 * bit, no byte below 0x20, no 0x7f. The has-less/has-zero bit tricks never
 * miss a match; a false alarm only sends the caller to the slow path. */
static bool printable8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t v, x;
    memcpy(&v, p, 8);
    x = v ^ (0x7f * ones);
    return ((v & high) | ((v - 0x20 * ones) & ~v & high) | ((x - ones) & ~x & high)) == 0;
}

bool aioe_ce_is_string(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (s == NULL && n > 0) return false;
    size_t i = 0;
    if (n >= 8) {
        /* Fast path: whole words, then the last 8 bytes (overlapping). */
        while (i + 8 <= n && printable8(p + i)) i += 8;
        if (i == n || (i + 8 > n && printable8(p + n - 8))) return true;
    }
    while (i < n) {
        unsigned char c = p[i];
        uint32_t cp;
        size_t len;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) return false;
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false; /* continuation byte, overlong lead or > U+10FFFF */
        }
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false; /* overlong or out of range */
        if (cp >= 0x80 && cp <= 0x9f) return false;          /* C1 controls */
        if (cp >= 0xd800 && cp <= 0xdfff) return false;      /* surrogates */
        if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
            return false; /* noncharacters */
        i += len;
    }
    return true;
}

static bool ieq_prefix(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (n < l) return false;
    for (size_t i = 0; i < l; i++) {
        unsigned char a = (unsigned char)s[i];
        if (a >= 'A' && a <= 'Z') a = (unsigned char)(a | 0x20);
        if (a != (unsigned char)lit[i]) return false;
    }
    return true;
}

static bool media_type_ends(const char *s, size_t n, size_t i)
{
    return i == n || s[i] == '+' || s[i] == ';' || s[i] == ' ' || s[i] == '\t';
}

bool aioe_ce_is_structured_content_type(const char *s, size_t n)
{
    if (s == NULL) return false;
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    static const char base[] = "application/cloudevents";
    if (!ieq_prefix(s + i, n - i, base)) return false;
    i += sizeof base - 1;
    if (media_type_ends(s, n, i)) return true;
    if (ieq_prefix(s + i, n - i, "-batch"))
        return media_type_ends(s, n, i + 6);
    return false;
}
