/* nft.h: apply nftables rules in the current network namespace. */
#ifndef OMNET_NFT_H
#define OMNET_NFT_H

#include <stddef.h>

/* nft_run() - run a ruleset text (nft -f syntax); 0, or -1 with the
 * library's error text in err */
int nft_run(const char *rules, char *err, size_t errlen);

#endif
