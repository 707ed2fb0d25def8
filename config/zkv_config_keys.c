// The config file's keys: each node's CURVE public key, given inline (/node/public_key) or read
// from its certificate file (/node/cert), and the check zkvd and clients run before they use them.
#include "zkv_config_int.h"
#include "zkv_error.h"

#include <czmq.h>
#include <inttypes.h>

bool
zkv_config_curve (const zkv_config_t *self)
{
    return strcmp (self->cluster.security, "curve") == 0;
}

bool
zkv_config_key_valid (const char *text)
{
    if (!text || strlen (text) != 40)
        return false;
    uint8_t key[32];
    // zmq_z85_decode checks every character against the Z85 alphabet.
    return zmq_z85_decode (key, text) != NULL;
}

static void
s_err (char *err, size_t errlen, const char *format, ...)
{
    if (!err || !errlen)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, errlen, format, args);
    va_end (args);
}

int
zkv_config_node_key (const zkv_config_t *self, const zkv_config_node_t *node, char key[41],
                     char *err, size_t errlen)
{
    key[0] = 0;
    if (node->cert) {
        // zcert_load reads FILE and, when it is there, FILE_secret: only the public key is used.
        if (!zsys_file_exists (node->cert)) {
            s_err (err, errlen,
                   "%s: node %" PRIu64 "'s certificate %s does not exist (make it with "
                   "`zkv keygen %s`)",
                   self->source, node->id, node->cert, node->cert);
            return ZKV_ECONFIG;
        }
        zcert_t *cert = zcert_load (node->cert);
        if (!cert || !zkv_config_key_valid (zcert_public_txt (cert))) {
            s_err (err, errlen, "%s: node %" PRIu64 "'s certificate %s is not a certificate",
                   self->source, node->id, node->cert);
            zcert_destroy (&cert);
            return ZKV_ECONFIG;
        }
        snprintf (key, 41, "%s", zcert_public_txt (cert));
        zcert_destroy (&cert);
    }
    if (node->public_key) {
        if (key[0] && strcmp (key, node->public_key) != 0) {
            s_err (err, errlen,
                   "%s: node %" PRIu64 "'s public_key is not the key of its certificate %s (%s)",
                   self->source, node->id, node->cert, key);
            return ZKV_ECONFIG;
        }
        snprintf (key, 41, "%s", node->public_key);
    }
    if (!key[0]) {
        s_err (err, errlen,
               "%s: node %" PRIu64 " has no key: /cluster/security is curve (the default), so "
               "each node needs a cert (`zkv keygen FILE`, then cert = FILE) or a public_key; "
               "or set /cluster/security = none for plain text",
               self->source, node->id);
        return ZKV_ECONFIG;
    }
    return 0;
}

int
zkv_config_check_keys (const zkv_config_t *self, char *err, size_t errlen)
{
    if (!zkv_config_curve (self))
        return 0;
    for (size_t i = 0; i < self->node_count; i++) {
        char key[41];
        if (zkv_config_node_key (self, &self->nodes[i], key, err, errlen))
            return ZKV_ECONFIG;
        for (size_t j = 0; j < i; j++) {
            char other[41];
            if (zkv_config_node_key (self, &self->nodes[j], other, err, errlen))
                return ZKV_ECONFIG;
            if (strcmp (key, other) == 0) {
                s_err (err, errlen,
                       "%s: nodes %" PRIu64 " and %" PRIu64 " have the same key: each node "
                       "needs its own certificate",
                       self->source, self->nodes[j].id, self->nodes[i].id);
                return ZKV_ECONFIG;
            }
        }
    }
    return 0;
}
