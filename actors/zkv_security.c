// zkvd's CURVE security: certificate, allowed keys, zauth (zkv_security.h).
#include "zkv_security.h"
#include "zkv_error.h"
#include "zkv_log.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

// Keys a directory of client or monitor certificates may hold at most (a limit, not a guess:
// each is a file zauth reads at every change of its directory).
#define S_MAX_KEYS 10000

struct zkv_security {
    bool on;               // curve
    zcert_t *cert;         // the node's certificate, with its secret key
    zactor_t *auth;        // zauth
    char *dir;             // the directory zauth reads (DATA/authorized-keys)
    char *client_dir;      // the config's client_keys (NULL: none)
    char *monitor_dir;     // the config's monitor_keys (NULL: none)
    zhashx_t *monitors;    // monitor keys (Z85 text -> ""), under lock
    zhashx_t *allowed;     // every key written to dir (Z85 text -> its file's path), under lock
    zhashx_t *from_dirs;   // keys the client and monitor directories gave (Z85 -> ""), under lock
    pthread_mutex_t lock;  // guards the tables and dir writes
};

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

// Writes one public certificate for key into the zauth directory, unless it is there already.
// name says whose it is (a file name part). Caller holds the lock. 0 or -1.
static int
s_allow (zkv_security_t *self, const char *key, const char *name)
{
    if (zhashx_lookup (self->allowed, key))
        return 0; // a duplicate would abort zauth's certificate store
    uint8_t public_key[32];
    if (!zmq_z85_decode (public_key, key))
        return -1;
    uint8_t no_secret[32] = {0};
    zcert_t *cert = zcert_new_from (public_key, no_secret);
    if (!cert)
        return -1;
    zcert_set_meta (cert, "zkv", "%s", name);
    // Written aside and renamed: zauth never reads half a file.
    char *tmp = zsys_sprintf ("%s/.%s.tmp", self->dir, name);
    char *path = zsys_sprintf ("%s/%s.key", self->dir, name);
    int rc = tmp && path && zcert_save_public (cert, tmp) == 0 && rename (tmp, path) == 0 ? 0 : -1;
    zstr_free (&tmp);
    zcert_destroy (&cert);
    if (rc == 0)
        zhashx_insert (self->allowed, key, path); // the table frees it
    else
        zstr_free (&path);
    return rc;
}

// Reads every public certificate in dir (a config's client_keys or monitor_keys) into `into`
// (Z85 key -> what). 0, or ZKV_ECONFIG with a message.
static int
s_load_dir (const char *what, const char *dir, zhashx_t *into, char *err,
            size_t errlen)
{
    DIR *d = opendir (dir);
    if (!d) {
        s_err (err, errlen, "cannot read %s directory %s: %s", what, dir, strerror (errno));
        return ZKV_ECONFIG;
    }
    size_t n = 0;
    int rc = 0;
    struct dirent *ent;
    while ((ent = readdir (d)) && rc == 0) {
        size_t len = strlen (ent->d_name);
        // Hidden files, and secret files that do not belong in a directory of public keys.
        if (ent->d_name[0] == '.' || (len > 7 && strcmp (ent->d_name + len - 7, "_secret") == 0))
            continue;
        char *path = zsys_sprintf ("%s/%s", dir, ent->d_name);
        zcert_t *cert = path ? zcert_load (path) : NULL;
        if (!cert || !zkv_config_key_valid (zcert_public_txt (cert))) {
            s_err (err, errlen,
                   "%s is not a public certificate (the %s directory %s holds only "
                   "files `zkv keygen` made)",
                   path, what, dir);
            rc = ZKV_ECONFIG;
        } else if (++n > S_MAX_KEYS) {
            s_err (err, errlen, "the %s directory %s holds more than %d keys", what, dir,
                   S_MAX_KEYS);
            rc = ZKV_ECONFIG;
        } else
            zhashx_update (into, zcert_public_txt (cert), (void *)what);
        zcert_destroy (&cert);
        zstr_free (&path);
    }
    closedir (d);
    return rc;
}

// Empties the zauth directory (or makes it): what it allows is rebuilt from the config each start.
static int
s_fresh_dir (const char *dir)
{
    DIR *d = opendir (dir);
    if (d) {
        struct dirent *ent;
        while ((ent = readdir (d)))
            if (strcmp (ent->d_name, ".") && strcmp (ent->d_name, "..")) {
                char *path = zsys_sprintf ("%s/%s", dir, ent->d_name);
                if (path)
                    unlink (path);
                zstr_free (&path);
            }
        closedir (d);
        return 0;
    }
    return zsys_dir_create ("%s", dir);
}

// A key's file in the zauth directory: what it is and the start of its bytes in hex (a Z85 key
// holds characters a file name cannot).
static void
s_key_name (const char *what, const char *key, char *name, size_t size)
{
    uint8_t raw[32] = {0};
    zmq_z85_decode (raw, key);
    snprintf (name, size, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", what, raw[0], raw[1], raw[2],
              raw[3], raw[4], raw[5], raw[6], raw[7]);
}

// Makes the allowed client and monitor keys those of the directories now: keys that appeared
// are let in, keys that went are taken out (a connection they hold stays; a new one is
// refused). Node keys are never taken out. Caller holds the lock. 0, or ZKV_ECONFIG with err
// (nothing changed then: a directory that cannot be read does not revoke every key).
static int
s_sync_dirs (zkv_security_t *self, size_t *added, size_t *removed, char *err, size_t errlen)
{
    zhashx_t *now = zhashx_new ();
    int rc = 0;
    if (self->client_dir)
        rc = s_load_dir ("client", self->client_dir, now, err, errlen);
    if (rc == 0 && self->monitor_dir)
        rc = s_load_dir ("monitor", self->monitor_dir, now, err, errlen);
    if (rc != 0) {
        zhashx_destroy (&now);
        return rc;
    }
    // Gone: out of zauth's directory and the tables.
    zlistx_t *old = zhashx_keys (self->from_dirs);
    for (const char *key = (const char *)zlistx_first (old); key;
         key = (const char *)zlistx_next (old)) {
        if (zhashx_lookup (now, key))
            continue;
        const char *path = (const char *)zhashx_lookup (self->allowed, key);
        if (path && strstr (path, "/node-") == NULL) {
            unlink (path);
            zhashx_delete (self->allowed, key);
        }
        zhashx_delete (self->monitors, key);
        zhashx_delete (self->from_dirs, key);
        (*removed)++;
    }
    zlistx_destroy (&old);
    // New, or moved between the directories.
    for (const char *what = (const char *)zhashx_first (now); what;
         what = (const char *)zhashx_next (now)) {
        const char *key = (const char *)zhashx_cursor (now);
        bool monitor = strcmp (what, "monitor") == 0;
        if (monitor)
            zhashx_update (self->monitors, key, (void *)"");
        else
            zhashx_delete (self->monitors, key);
        if (zhashx_lookup (self->from_dirs, key))
            continue;
        char name[64];
        s_key_name (what, key, name, sizeof name);
        if (s_allow (self, key, name) != 0) {
            s_err (err, errlen, "cannot write into %s: %s", self->dir, strerror (errno));
            rc = ZKV_ECONFIG;
            break;
        }
        zhashx_insert (self->from_dirs, key, (void *)"");
        (*added)++;
    }
    zhashx_destroy (&now);
    return rc;
}

int
zkv_security_reload (zkv_security_t *self, uint64_t id)
{
    if (!zkv_security_on (self))
        return 0;
    size_t added = 0, removed = 0;
    char err[512] = "";
    pthread_mutex_lock (&self->lock);
    int rc = s_sync_dirs (self, &added, &removed, err, sizeof err);
    pthread_mutex_unlock (&self->lock);
    if (rc != 0)
        zkv_log_warning ("zkvd %" PRIu64 ": client and monitor keys not reloaded: %s", id, err);
    else if (added || removed)
        zkv_log_notice ("zkvd %" PRIu64 ": client and monitor keys reloaded: %zu let in, %zu taken "
                        "out (connections they hold stay open)",
                        id, added, removed);
    return rc;
}

zkv_security_t *
zkv_security_new (const zkv_config_t *config, uint64_t id, const char *data_dir, char *err,
                  size_t errlen)
{
    zkv_security_t *self = (zkv_security_t *)zmalloc (sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    self->monitors = zhashx_new ();
    self->allowed = zhashx_new ();
    zhashx_set_destructor (self->allowed, (zhashx_destructor_fn *)zstr_free);
    self->from_dirs = zhashx_new ();
    if (!zkv_config_curve (config)) {
        zkv_log_warning ("zkvd %" PRIu64 ": SECURITY IS OFF (/cluster/security = none in %s): "
                         "peer, client and event traffic is plain text, and anyone who reaches "
                         "this node's ports can read and change every key and forge Raft "
                         "messages",
                         id, zkv_config_source (config));
        return self;
    }
    self->on = true;
    char why[512];
    const zkv_config_node_t *me = zkv_config_node (config, id);
    if (zkv_config_check_keys (config, why, sizeof why) != 0) {
        s_err (err, errlen, "%s", why);
        goto fail;
    }
    if (!me->cert) {
        s_err (err, errlen,
               "%s: node %" PRIu64 " has no cert: under /cluster/security = curve it needs its "
               "own certificate (`zkv keygen FILE`, then cert = FILE in its node section)",
               zkv_config_source (config), id);
        goto fail;
    }
    char *secret = zsys_sprintf ("%s_secret", me->cert);
    bool has_secret = secret && zsys_file_exists (secret);
    self->cert = has_secret ? zcert_load (me->cert) : NULL;
    if (!self->cert) {
        s_err (err, errlen,
               "cannot read node %" PRIu64 "'s secret key %s: it is made with its certificate "
               "(`zkv keygen %s`) and stays on this machine",
               id, secret ? secret : me->cert, me->cert);
        zstr_free (&secret);
        goto fail;
    }
    zstr_free (&secret);
    char mine[41];
    if (zkv_config_node_key (config, me, mine, why, sizeof why) != 0 ||
        strcmp (mine, zcert_public_txt (self->cert)) != 0) {
        s_err (err, errlen,
               "node %" PRIu64 "'s certificate %s does not hold the key the config "
               "names for it",
               id, me->cert);
        goto fail;
    }
    self->dir = zsys_sprintf ("%s/authorized-keys", data_dir);
    if (!self->dir || s_fresh_dir (self->dir) != 0) {
        s_err (err, errlen, "cannot make %s: %s", self->dir ? self->dir : data_dir,
               strerror (errno));
        goto fail;
    }
    for (size_t i = 0; i < zkv_config_node_count (config); i++) {
        const zkv_config_node_t *node = zkv_config_node_at (config, i);
        char key[41], name[32];
        snprintf (name, sizeof name, "node-%" PRIu64, node->id);
        if (zkv_config_node_key (config, node, key, why, sizeof why) != 0 ||
            s_allow (self, key, name) != 0) {
            s_err (err, errlen, "cannot write node %" PRIu64 "'s key into %s", node->id, self->dir);
            goto fail;
        }
    }
    const zkv_config_cluster_t *c = zkv_config_cluster (config);
    self->client_dir = c->client_keys ? strdup (c->client_keys) : NULL;
    self->monitor_dir = c->monitor_keys ? strdup (c->monitor_keys) : NULL;
    size_t added = 0, removed = 0;
    if (s_sync_dirs (self, &added, &removed, err, errlen) != 0)
        goto fail;
    self->auth = zactor_new (zauth, NULL);
    if (!self->auth || zstr_sendx (self->auth, "CURVE", self->dir, NULL) != 0 ||
        zsock_wait (self->auth) != 0) {
        s_err (err, errlen, "cannot start the authenticator (zauth)");
        goto fail;
    }
    return self;
fail:
    zkv_security_destroy (&self);
    return NULL;
}

void
zkv_security_destroy (zkv_security_t **self_p)
{
    zkv_security_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->auth);
    zcert_destroy (&self->cert);
    zhashx_destroy (&self->monitors);
    zhashx_destroy (&self->allowed);
    zhashx_destroy (&self->from_dirs);
    free (self->client_dir);
    free (self->monitor_dir);
    zstr_free (&self->dir);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

bool
zkv_security_on (const zkv_security_t *self)
{
    return self && self->on;
}

void
zkv_security_serve (const zkv_security_t *self, zsock_t *sock)
{
    if (!zkv_security_on (self))
        return;
    zcert_apply (self->cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, "zkv");
}

void
zkv_security_connect (const zkv_security_t *self, zsock_t *sock, const char *server_key)
{
    if (!zkv_security_on (self))
        return;
    zcert_apply (self->cert, sock);
    zsock_set_curve_serverkey (sock, server_key);
}

int
zkv_security_allow_node (zkv_security_t *self, uint64_t node, const char *key)
{
    if (!zkv_security_on (self))
        return 0;
    if (!zkv_config_key_valid (key))
        return -1;
    char name[32];
    snprintf (name, sizeof name, "node-%" PRIu64, node);
    pthread_mutex_lock (&self->lock);
    int rc = s_allow (self, key, name);
    pthread_mutex_unlock (&self->lock);
    return rc;
}

const char *
zkv_security_user (zmq_msg_t *frame)
{
    return zmq_msg_gets (frame, "User-Id");
}

bool
zkv_security_monitor (zkv_security_t *self, const char *key)
{
    if (!zkv_security_on (self) || !key)
        return false;
    pthread_mutex_lock (&self->lock);
    bool monitor = zhashx_lookup (self->monitors, key) != NULL;
    pthread_mutex_unlock (&self->lock);
    return monitor;
}
