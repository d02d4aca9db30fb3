/* vmrun.h: a network's own namespaces and the command that runs in them
 * (network add --run; DESIGN.md 11.48).
 *
 * For a provider that an ordinary user runs.  Two processes, both as that
 * user:
 *  - the maker, omnetd exec'd afresh (`omnetd --netns-maker`, so that it
 *    holds nothing of the daemon's: no descriptor, no memory), makes a user
 *    namespace (the user is uid 0 in it, as with `unshare --user
 *    --map-root-user`) and a network namespace owned by it with the VM's
 *    interface tap0: a persistent tap for a VM's QEMU, or, for a container,
 *    one end of a veth pair whose other end is eth0 in a second namespace.
 *    It hands the namespaces to the daemon as descriptors and exits.  The
 *    daemon holds them as long as the network exists; the capture is set
 *    up in tap0's as in any namespace of the user's (privsep.h).
 *  - the command joins the user namespace and the VM's side of the network
 *    (tap0's namespace, or the container's), in a process group and a PID
 *    namespace of its own (whatever it starts ends with it), and is exec'd.
 * Its output is logged line by line, its end is logged, and the network is
 * deleted then unless --keep was given.  network delete and the daemon's
 * end stop its process group: SIGTERM, then SIGKILL after a grace period. */
#ifndef OMNET_VMRUN_H
#define OMNET_VMRUN_H

#include <stddef.h>

#include <jansson.h>

#include "daemon.h"
#include "util.h"

#define VMRUN_MAKER_ARG "--netns-maker"   /* omnetd's hidden mode for the maker, */
#define VMRUN_INIT_ARG "--run-init"       /* and for the command's PID namespace */

struct network;
struct vmrun;

struct vmrun_params {
	char *const *argv;      /* COMMAND [ARG]..., NULL-terminated */
	int container;          /* the command gets a namespace of its own, with eth0 */
	int keep;               /* the network stays when the command ends */
};

/* vmrun_add() - make the namespaces, add network id for peer in them, and
 * start the command; the network, or NULL with err and nothing left */
struct network *vmrun_add(struct daemon *d, const struct netid *id, const char *peer,
			  const struct vmrun_params *rp, char *err, size_t errlen);
/* vmrun_network_deleted() - the network is being deleted: stop its
 * command and let the namespaces go */
void vmrun_network_deleted(struct vmrun *r);
/* vmrun_stop_all() - the daemon ends: stop every command, waiting a
 * bounded time for them */
void vmrun_stop_all(struct daemon *d);
/* vmrun_json() - what network list shows of it */
json_t *vmrun_json(const struct vmrun *r);
/* vmrun_init_main() - omnetd --run-init COMMAND [ARG]...: the command in
 * the PID namespace its caller unshared; ends as the command ended */
int vmrun_init_main(char *const *argv);
/* vmrun_maker_main() - the maker's whole life (omnetd --netns-maker
 * tap|container LOGLEVEL), reporting on descriptor 3; its exit status */
int vmrun_maker_main(const char *kind);

#endif
