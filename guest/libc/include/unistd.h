/*
 * unistd.h: the basics a program that only prints and computes uses.
 *
 * write to 1 or 2 prints (the serial console, like printf); read finds end
 * of file (there is no input); sleep and usleep wait in modeled time.
 */
#ifndef _UNISTD_H
#define _UNISTD_H

#include <stddef.h>

typedef long ssize_t;
typedef int pid_t;
typedef unsigned int useconds_t;

#define STDIN_FILENO  0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2

ssize_t write(int fd, const void *buf, size_t n);   /* fd 1, 2; else -1, EBADF */
ssize_t read(int fd, void *buf, size_t n);          /* fd 0: 0 (end of file); else -1, EBADF */
int close(int fd);
int isatty(int fd);                                 /* 1 for 0-2 */
pid_t getpid(void);                                 /* 1: the only process */
unsigned int sleep(unsigned int seconds);
int usleep(useconds_t usec);
void _exit(int status) __attribute__((__noreturn__));

#endif
