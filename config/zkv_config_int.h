// zkv_config internals: the ZPL line scanner and the schema table, shared by the loader and tests.
#ifndef ZKV_CONFIG_INT_H
#define ZKV_CONFIG_INT_H

#include "zkv_config.h"

// ---------------------------------------------------------------------------------------------
// The line scanner (zkv_config_scan.c). zconfig parses the file; it keeps no line numbers, so the
// loader scans the same text by zconfig's own rules: each line that names an item yields one item,
// in file order, which is the order of a pre-order walk of zconfig's tree. The scanner is stricter
// than zconfig in a few places (see the .c) and explains every syntax error with its line, so
// zconfig only ever sees text it accepts.

#define ZKV_CONFIG_MAX_BYTES (1024 * 1024) // larger files are refused
#define ZKV_CONFIG_MAX_LINE  1000          // longer lines are refused (zconfig caps at 1024)

typedef struct {
    int line;    // 1-based line number
    int level;   // indentation in steps of 4 spaces
    char *name;  // the item's name, as zconfig reads it
    char *value; // its value, as zconfig reads it ("" for none)
} zkv_config_item_t;

typedef struct {
    zkv_config_item_t *items; // the items, in file order
    size_t count;             // how many
    size_t capacity;          // allocated
} zkv_config_scan_t;

// Scans len bytes of text into scan (which must be zeroed or cleared). Returns 0, or ZKV_ECONFIG
// with *line_p set to the offending line (0 for the file as a whole) and a message in why.
int zkv_config_scan (const char *text, size_t len, zkv_config_scan_t *scan, int *line_p, char *why,
                     size_t whylen);
// The first line of len bytes of text that zconfig itself refuses (0 if it takes them all): the
// loader's answer should zconfig ever refuse what the scanner took. zconfig logs as it parses.
int zkv_config_zconfig_line (const char *text, size_t len);
// Frees what a scan holds and zeroes it.
void zkv_config_scan_clear (zkv_config_scan_t *scan);

// ---------------------------------------------------------------------------------------------
// The schema (zkv_config_schema.c): one row per option, Redis-style.

typedef enum {
    ZKV_CONFIG_CLUSTER = 0, // /cluster: exactly one
    ZKV_CONFIG_NODE = 1,    // /node: one per node
    ZKV_CONFIG_GROUP = 2,   // /group: one per Raft group
    ZKV_CONFIG_SECTIONS = 3
} zkv_config_section_id_t;

typedef enum {
    ZKV_CONFIG_UINT,     // uint64_t in [min, max]
    ZKV_CONFIG_BOOL,     // bool: true or false
    ZKV_CONFIG_NAME,     // const char *: [min, max] letters, digits, '.', '_', '-'
    ZKV_CONFIG_ENDPOINT, // const char *: tcp://host:port, ipc://path, inproc://name
    ZKV_CONFIG_PATH,     // const char *: [min, max] bytes
    ZKV_CONFIG_IDS,      // zkv_config_ids_t: [min, max] distinct node ids, comma-separated
    ZKV_CONFIG_KEY       // const char *: a CURVE public key, 40 characters of Z85
} zkv_config_type_t;

typedef struct {
    const char *name;   // as written in the file
    size_t min;         // fewest sections of this name a file may have
    size_t max;         // most
    size_t record_size; // the struct one section fills in
    const char *doc;    // one line for people
} zkv_config_section_t;

typedef struct {
    zkv_config_section_id_t section; // where the key lives
    const char *key;                 // its name
    zkv_config_type_t type;          // how its value is read
    uint64_t min;                    // bounds: of the number, the length or the list
    uint64_t max;                    //
    const char *fallback;            // default, as a file would write it; NULL: required;
                                     // zkv_config_unset: optional, NULL when left out
    size_t offset;                   // where the value goes in the section's record
    const char *doc;                 // one line for people
} zkv_config_option_t;

#define ZKV_CONFIG_MAX_NODE_ID 65535 // node ids are 1..this
#define ZKV_CONFIG_MAX_OPTIONS 64    // rows in the schema, at most

extern const zkv_config_section_t zkv_config_sections[ZKV_CONFIG_SECTIONS];
extern const char zkv_config_unset[]; // the fallback of an optional option without a default
extern const zkv_config_option_t zkv_config_options[];
extern const size_t zkv_config_option_count;

// The section of this name, or -1.
int zkv_config_section_find (const char *name);
// The index of the option key in section, or -1.
int zkv_config_option_find (zkv_config_section_id_t section, const char *key);
// Reads value into the option's field of record. Returns 0, or ZKV_ECONFIG with a message (without
// the path) in why; the field is untouched on failure.
int zkv_config_option_parse (const zkv_config_option_t *opt, const char *value, void *record,
                             char *why, size_t whylen);
// Frees what the option's field of record owns (strings, id lists).
void zkv_config_option_free (const zkv_config_option_t *opt, void *record);

// ---------------------------------------------------------------------------------------------
// The loader (zkv_config_load.c) and the object it fills.

struct _zkv_config_t {
    char *source;                 // file name, for messages
    zkv_config_cluster_t cluster; // /cluster
    zkv_config_node_t *nodes;     // /node sections, in file order
    size_t node_count;            // how many
    zkv_config_group_t *groups;   // /group sections, in file order
    size_t group_count;           // how many
};

// Builds a config from len bytes of text (NUL-terminated at text[len]). source names the file
// in messages; relative data paths are resolved against base_dir unless it is NULL.
zkv_config_t *zkv_config_parse (const char *text, size_t len, const char *source,
                                const char *base_dir, char *err, size_t errlen);

#endif
