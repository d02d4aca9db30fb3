/* userns.h: a user namespace of the daemon's own user, for a network
 * added with --run (vmrun.c): the user becomes uid 0 in it, as with
 * `unshare --user --map-root-user`, and holds every capability over the
 * namespaces made from there on.  Where the kernel refuses, the message
 * says which restriction (nsrefuse.h). */
#ifndef OMNET_USERNS_H
#define OMNET_USERNS_H

#include <stddef.h>

/* userns_make() - unshare the user namespace and map this user to 0 in
 * it; 0, or -1 with why */
int userns_make(char *err, size_t errlen);

#endif
