/* resolv.h: the consumer's own resolvers, read from resolv.conf, for the
 * VM's virtual DNS address. */
#ifndef OMNET_RESOLV_H
#define OMNET_RESOLV_H

#include <stddef.h>

#include "util.h"

#define RESOLV_CONF	"/etc/resolv.conf"

/* resolv_nameservers() - the "nameserver" addresses of the resolv.conf at
 * @path, in file order, at most @max of them, each with port 53.  IPv6
 * scopes (fe80::1%eth0) are dropped, unparsable addresses skipped.
 * Returns the count (0 if there are none), or -1 with a message in err if
 * the file cannot be read. */
int resolv_nameservers(const char *path, struct ipport *out, size_t max, char *err,
		       size_t errlen);

#endif
