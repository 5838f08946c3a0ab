/*
 * assert.h: no include guard, so that re-including after changing NDEBUG
 * takes effect, as the C standard requires.
 */

#undef assert

#ifdef NDEBUG
#define assert(e) ((void)0)
#else
void __assert_fail(const char *expr, const char *file, unsigned int line,
                   const char *func) __attribute__((__noreturn__));
#define assert(e) \
	((e) ? (void)0 : __assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

/* From gcc 13, C23's static_assert is a keyword; before, a macro (as glibc). */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && \
    (__STDC_VERSION__ <= 201710L || __GNUC__ < 13)
#undef static_assert
#define static_assert _Static_assert
#endif
