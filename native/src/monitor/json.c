#include <string.h>
#include "json.h"

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 if it is invalid (Go's rules:
 * shortest form only, no surrogates, nothing above U+10FFFF). */
static size_t utf8_valid_len(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  unsigned char lo = 0x80, hi = 0xbf;
  size_t need;
  if (c >= 0xc2 && c <= 0xdf) need = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    need = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else
    return 0;
  if (n < need) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < need; i++)
    if (p[i] < 0x80 || p[i] > 0xbf) return 0;
  return need;
}

void json_append_string(struct buf *out, const char *data, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)data;
  size_t start = 0, i = 0;
  buf_append(out, "\"", 1);
  while (i < len) {
    unsigned char c = s[i];
    if (c < 0x80) {
      if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
        i++;
        continue;
      }
      buf_append(out, s + start, i - start);
      switch (c) {
      case '"': buf_append(out, "\\\"", 2); break;
      case '\\': buf_append(out, "\\\\", 2); break;
      case '\n': buf_append(out, "\\n", 2); break;
      case '\r': buf_append(out, "\\r", 2); break;
      case '\t': buf_append(out, "\\t", 2); break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        buf_append(out, esc, 6);
      }
      }
      start = ++i;
      continue;
    }
    size_t n = utf8_valid_len(s + i, len - i);
    if (n == 0) {
      buf_append(out, s + start, i - start);
      buf_append(out, "\\ufffd", 6);
      start = ++i;
      continue;
    }
    /* U+2028 and U+2029 are e2 80 a8 / e2 80 a9 */
    if (n == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
      buf_append(out, s + start, i - start);
      buf_append(out, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
      i += 3;
      start = i;
      continue;
    }
    i += n;
  }
  buf_append(out, s + start, len - start);
  buf_append(out, "\"", 1);
}
