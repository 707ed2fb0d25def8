#!/bin/sh
# The central rule: cluster/ and messages/ decide without sockets, clocks, randomness or disk.
# Fails if they include or call any of it, or if cluster/ includes a header of another layer.
root=${1:-.}
bad=0
hits=$(grep -rnE '#include *[<"](czmq|zmq|leveldb/|time\.h|sys/time|pthread|unistd|sys/socket|fcntl|stdio)' \
    "$root/cluster" "$root/messages" --include='*.c' --include='*.h')
if [ -n "$hits" ]; then
    echo "impure include in the core:"; echo "$hits"; bad=1
fi
calls=$(grep -rnE '\b(time|clock_gettime|gettimeofday|rand|random|srand|sleep|usleep|nanosleep|fopen|open|zclock_[a-z]+|zsock_[a-z]+)\s*\(' \
    "$root/cluster" --include='*.c' --include='*.h' | grep -vE '^\S+:[0-9]+:\s*//')
if [ -n "$calls" ]; then
    echo "impure call in the core:"; echo "$calls"; bad=1
fi
# The core owns its interfaces: every header it includes is its own or messages/'s, never one
# of storage/ or actors/ (which implement or drive it).
for f in $(grep -rhoE '#include *"[^"]+"' "$root/cluster" --include='*.c' --include='*.h' |
           sed -E 's/.*"([^"]+)"/\1/' | sort -u); do
    if [ ! -f "$root/cluster/$f" ] && [ ! -f "$root/messages/$f" ]; then
        echo "the core includes $f, which is not in cluster/ or messages/:"
        grep -rnF "\"$f\"" "$root/cluster" --include='*.c' --include='*.h'
        bad=1
    fi
done
if [ $bad -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $bad
