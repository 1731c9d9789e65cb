/*
 * readahead.h: the start of the next message, read and transformed while
 * a client that fetches in order reads the previous one (doc/design.md 6).
 */
#ifndef READAHEAD_H
#define READAHEAD_H

#include <sys/stat.h>

#include <stddef.h>

struct out_sink;
struct readahead;
struct session;

/*
 * After a RETR of the message before index i (or the first RETR):
 * registers idle work with io.c that reads ahead the first undeleted
 * message from index i on, allocating s->ra (about 320 KiB) the first
 * time.  Nothing when no such message is left.
 */
void	readahead_schedule(struct session *, size_t i);

/*
 * crlf_stream(fd, -1, sink) for message idx, taking the bytes ra read
 * ahead when they come from the same file, unchanged (inode, size and
 * mtime; st is fd's fstat()).  ra may be NULL; what it held is dropped
 * either way.  Closes fd.
 */
int	readahead_stream(struct readahead *, size_t idx, int fd,
	    const struct stat *st, const struct out_sink *);

void	readahead_free(struct readahead *);

#endif
