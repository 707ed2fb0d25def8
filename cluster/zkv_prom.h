// zkv_prom: a writer of Prometheus' text exposition format, version 0.0.4 (the format
// /metrics speaks): metric families with their HELP and TYPE lines, samples with escaped label
// values. Pure: it appends to a heap buffer (no stdio: the core's rule).
//
//     zkv_prom_t p = {0};
//     zkv_prom_family (&p, "zkv_requests_total", "counter", "Client requests answered.");
//     zkv_prom_labels_t l = {0};
//     zkv_prom_label (&l, "kind", "get");
//     zkv_prom_u64 (&p, "zkv_requests_total", &l, 12);
//     ... p.data holds p.len bytes (NUL-terminated); zkv_prom_free (&p).
//
// Names follow Prometheus' conventions (zkv_ prefix, _total counters, _seconds, _bytes); the
// caller keeps a family's samples together, as the format wants.
#ifndef ZKV_PROM_H
#define ZKV_PROM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; // the text so far, NUL-terminated (NULL while empty)
    size_t len; // its length
    size_t cap; // allocated
} zkv_prom_t;

// A sample's labels: k="v",k2="v2" (values escaped).
typedef struct {
    char text[384]; // the list, NUL-terminated
    size_t len;     // its length
} zkv_prom_labels_t;

// "# HELP name help" and "# TYPE name type" (counter, gauge, histogram).
void zkv_prom_family (zkv_prom_t *p, const char *name, const char *type, const char *help);
// One sample: name{labels} value (labels NULL or empty: none).
void zkv_prom_u64 (zkv_prom_t *p, const char *name, const zkv_prom_labels_t *labels,
                   uint64_t value);
// A sample whose value is a count of microseconds, written in seconds ("0.001250").
void zkv_prom_micros (zkv_prom_t *p, const char *name, const zkv_prom_labels_t *labels,
                      uint64_t us);
// Adds key="value" (escaping backslash, quote and newline); a label that does not fit is left
// out whole.
void zkv_prom_label (zkv_prom_labels_t *l, const char *key, const char *value);
void zkv_prom_label_u64 (zkv_prom_labels_t *l, const char *key, uint64_t value);
// Appends text as it is.
void zkv_prom_text (zkv_prom_t *p, const char *text);
void zkv_prom_free (zkv_prom_t *p);

// Writes value in decimal into buf (at least 21 bytes); returns its length.
size_t zkv_prom_utoa (uint64_t value, char *buf);

#endif
