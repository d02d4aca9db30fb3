/* relay.h: the relay role, and what a peer asks of a relay.
 *
 * A relay is an omnetd that peers dial like any peer (pinned both ways).
 * It tells each peer the address it sees it from (RELAY_OBSERVED), and
 * when two of its peers each ask to meet the other (RELAY_CONNECT naming
 * the other's key), it introduces them (RELAY_INTRO: the other's
 * candidates and a channel).  Datagrams one sends on its channel, wrapped
 * in a RELAY header, go out to the other on the other's channel.  What
 * travels inside is the two peers' own DTLS: the relay cannot read it.
 * What a relay forwards from one peer is limited to a rate (token bucket).
 * Requests and channels are soft state, refreshed by the peers and
 * forgotten when not refreshed. */
#ifndef OMNET_RELAY_H
#define OMNET_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "path.h"
#include "wire.h"

struct daemon;
struct peer;
struct session;

/* Relay side. */
struct relay *relay_new(struct daemon *d);
void relay_free(struct relay *r);
/* relay_session_up() - tell the peer where it is seen from */
void relay_session_up(struct daemon *d, struct session *s);
/* relay_connect() - the peer wants to meet the peer fr names */
void relay_connect(struct daemon *d, struct peer *from, const struct wire_frame *fr);
/* relay_forward() - a datagram on a channel, which came on `from` */
void relay_forward(struct daemon *d, uint32_t channel, const uint8_t *p, size_t len,
		   const struct path_addr *from);
void relay_peer_gone(struct daemon *d, struct peer *p);
/* relay_housekeeping() - forget requests and channels not refreshed */
void relay_housekeeping(struct daemon *d, uint64_t now_ms);
size_t relay_channel_count(const struct daemon *d);

/* Peer side. */
#define RELAY_REFRESH_MS 10000 /* how often a peer repeats its requests */
#define RELAY_TTL_MS 35000     /* a request or introduction not repeated by then is gone */

#endif
