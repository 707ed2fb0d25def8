// A small JSON writer into a growing buffer, for what nodes render for people and programs (the
// status page's /api/cluster). Pure: no stdio, so it formats numbers itself. Commas come by
// themselves: the writer knows, per open object or array, whether a value was written yet.
//
//     zkv_json_t j = {0};
//     zkv_json_open (&j, '{');
//     zkv_json_key (&j, "term"); zkv_json_u64 (&j, 3);
//     zkv_json_key (&j, "name"); zkv_json_str (&j, "n\"1", 3);
//     zkv_json_close (&j, '}');            // j.data: {"term":3,"name":"n\"1"}
//     zkv_json_free (&j);
#ifndef ZKV_JSON_H
#define ZKV_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Deepest nesting the writer tracks; deeper values are still written, commas past it are not
// (the renderers here nest 4 deep at most).
#define ZKV_JSON_MAX_DEPTH 16

typedef struct {
    char *data;                   // the text so far, NUL-terminated (NULL before the first write)
    size_t len;                   // its length
    size_t cap;                   // bytes allocated
    int depth;                    // open objects and arrays
    bool has[ZKV_JSON_MAX_DEPTH]; // per level: a value was written (the next one needs a comma)
    bool after_key;               // a key was just written: its value takes no comma
} zkv_json_t;

// '{' or '[' opens, '}' or ']' closes.
void zkv_json_open (zkv_json_t *j, char bracket);
void zkv_json_close (zkv_json_t *j, char bracket);
// An object's key (a plain ASCII name: written as given, quoted).
void zkv_json_key (zkv_json_t *j, const char *key);
void zkv_json_u64 (zkv_json_t *j, uint64_t v);
// A signed number, for differences that may be negative.
void zkv_json_i64 (zkv_json_t *j, int64_t v);
void zkv_json_bool (zkv_json_t *j, bool v);
void zkv_json_null (zkv_json_t *j);
// A string of len bytes, escaped: quotes, backslashes and control bytes, and bytes past 0x7f
// as \u00XX (each byte one code point), so any bytes make valid JSON.
void zkv_json_str (zkv_json_t *j, const void *data, size_t len);
// A NUL-terminated string.
void zkv_json_cstr (zkv_json_t *j, const char *s);
// JSON text made elsewhere (a complete value), written as one value.
void zkv_json_value (zkv_json_t *j, const char *text, size_t len);
// Frees the text and resets the writer.
void zkv_json_free (zkv_json_t *j);

#endif
