/* identity.c: key generation, storage and fingerprints. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "identity.h"
#include "log.h"
#include "osutil.h"
#include "util.h"

#define IDENTITY_FILE "identity.pem"

int fingerprint_valid(const char *fp)
{
	uint8_t raw[32];

	return strncmp(fp, "sha256:", 7) == 0 && hex_decode(fp + 7, raw, sizeof(raw)) == 0;
}

int identity_fingerprint(X509 *cert, char out[FINGERPRINT_LEN + 1])
{
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);

	if (len <= 0)
		return -1;
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	memcpy(out, "sha256:", 7);
	hex_encode(md, sizeof(md), out + 7);
	return 0;
}

/* make_cert() - a self-signed certificate, only a carrier for the public
 * key: peers pin the key, so names and dates carry no meaning */
static X509 *make_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn;

	if (!x)
		return NULL;
	random_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400L);
	X509_time_adj_ex(X509_getm_notAfter(x), 36500, 0, NULL);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"omnetd", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	if (!X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

struct pem_pair {
	EVP_PKEY *key;
	X509 *cert;
};

static int write_pem_pair(FILE *f, void *arg)
{
	struct pem_pair *pp = arg;

	if (!PEM_write_PrivateKey(f, pp->key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_X509(f, pp->cert)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static int write_identity(const char *path, EVP_PKEY *key, X509 *cert, char *err, size_t errlen)
{
	struct pem_pair pp = { key, cert };

	return file_write_atomic(path, write_pem_pair, &pp, err, errlen);
}

static int create_identity(struct identity *id, const char *path, char *err, size_t errlen)
{
	id->key = EVP_EC_gen("P-256");
	if (!id->key || !(id->cert = make_cert(id->key))) {
		snprintf(err, errlen, "cannot generate a key pair");
		return -1;
	}
	if (write_identity(path, id->key, id->cert, err, errlen) < 0)
		return -1;
	log_info("created identity %s", path);
	return 0;
}

static int read_identity(struct identity *id, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct stat st;

	if (!f) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		log_warnx("%s: readable by others (mode %o); it holds the private key", path,
			  (unsigned)(st.st_mode & 0777));
	id->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	id->cert = id->key ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	fclose(f);
	if (!id->key || !id->cert || X509_check_private_key(id->cert, id->key) != 1) {
		snprintf(err, errlen, "%s: not a valid identity (key and certificate)", path);
		return -1;
	}
	return 0;
}

int identity_load(struct identity *id, const char *state_dir, char *err, size_t errlen)
{
	char path[4200];

	memset(id, 0, sizeof(*id));
	snprintf(path, sizeof(path), "%s/%s", state_dir, IDENTITY_FILE);
	if (access(path, F_OK) == 0 ? read_identity(id, path, err, errlen) < 0
				     : create_identity(id, path, err, errlen) < 0) {
		identity_free(id);
		return -1;
	}
	if (identity_fingerprint(id->cert, id->fingerprint) < 0) {
		snprintf(err, errlen, "%s: cannot compute the fingerprint", path);
		identity_free(id);
		return -1;
	}
	return 0;
}

void identity_free(struct identity *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	id->key = NULL;
	id->cert = NULL;
}
