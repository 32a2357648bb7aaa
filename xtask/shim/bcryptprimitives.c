/*
 * TEST-ONLY shim for running picow.exe under Wine 8.0 (Debian 12). NEVER SHIP.
 *
 * Rust's standard library on Windows imports ProcessPrng from
 * bcryptprimitives.dll, which every Windows 10/11 has but Wine 8.0 lacks: the
 * loader then fails and the program exits with status 53 before main.
 * `cargo xtask windows` builds this file into bcryptprimitives.dll next to the
 * test copy of picow.exe only (see docs/windows.md and xtask/src/windows.rs).
 *
 * ProcessPrng fills the buffer with random bytes and always returns TRUE on
 * Windows; here it forwards to RtlGenRandom (advapi32!SystemFunction036),
 * which takes a ULONG length, hence the loop.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
