// The kernel's address-family numbers (AF_INET, AF_INET6) and their mapping to the IP family src/net/ uses.
import type { IpFamily } from '../../net/ip.ts';

export const AF_INET = 2;
export const AF_INET6 = 10;

export function familyToAf(family: IpFamily): number {
  return family === 4 ? AF_INET : AF_INET6;
}

/** Returns 4 or 6 for an AF_INET/AF_INET6 value, undefined for any other address family. */
export function afToFamily(af: number): IpFamily | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}
