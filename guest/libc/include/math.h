/*
 * math.h: declarations only.
 *
 * The guest has no SSE: everything is built with -mgeneral-regs-only, so a
 * call that passes or returns a double does not even compile.  The header
 * exists because programs (csmith's among them) include it and mention these
 * functions in code that is never emitted.  None is defined in the runtime.
 */
#ifndef _MATH_H
#define _MATH_H

#define HUGE_VAL  (__builtin_huge_val())
#define HUGE_VALF (__builtin_huge_valf())
#define INFINITY  (__builtin_inff())
#define NAN       (__builtin_nanf(""))

double fabs(double x);
float fabsf(float x);
double ldexp(double x, int exp);
float ldexpf(float x, int exp);
double sqrt(double x);
float sqrtf(float x);
double floor(double x);
double ceil(double x);
double fmod(double x, double y);
double pow(double x, double y);

#endif
