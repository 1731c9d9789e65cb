/*
 * proxy.h: a pure parser for HAProxy's PROXY protocol v1 and v2 headers
 * (spec 9).  No I/O: the caller feeds the bytes read so far.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stdbool.h>
#include <stddef.h>

#define PROXY_V1_MAX	107	/* v1 text line incl. CRLF */
#define PROXY_V2_MAX	(16 + 2048)	/* v2 header with TLVs, our bound */

struct proxy_result {
	bool	local;		/* LOCAL / UNKNOWN: keep the real peer */
	bool	loopback;	/* the announced source is a loopback one */
	char	addr[46];	/* the announced source, printable */
	/*
	 * v2 PP2_TYPE_SSL with PP2_CLIENT_SSL (HAProxy send-proxy-v2-ssl):
	 * the client reached the proxy over TLS.  Version and cipher are
	 * its sub-TLVs when present and printable, else empty.
	 */
	bool	ssl;
	char	ssl_version[32];
	char	ssl_cipher[64];
};

/*
 * Looks at buf[0..len).  Returns the header length when a complete valid
 * header is there (filling *out), 0 when more bytes are needed (never
 * more than PROXY_V2_MAX in all), or -1 with a reason in *errstr_out.
 */
int	proxy_parse(const unsigned char *buf, size_t len,
	    struct proxy_result *out, const char **errstr_out);

struct in6_addr;
/* Prints a, with ::ffff:a.b.c.d as a.b.c.d (spec 9); size >= 46. */
void	proxy_ntop6(const struct in6_addr *a, char *buf, size_t size);

#endif
