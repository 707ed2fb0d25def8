#!/bin/sh
# The central rule: cluster/ and messages/ decide without sockets, clocks, randomness or disk.
# Fails if they include or call any of it.
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
if [ $bad -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $bad
