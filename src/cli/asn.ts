// BGP AS-number rules for the cluster ASN and external peer ASNs (IANA special-purpose registry).
// Upstream rejects a few public ranges by mistake (64000-64495) and accepts 65535 as a private cluster
// ASN; here the registry is followed: private = 64512-65534 and 4200000000-4294967294 (RFC 6996).

export const DEFAULT_CLUSTER_ASN = 64512;

export function isPrivateAsn(asn: number): boolean {
  return (asn >= 64512 && asn <= 65534) || (asn >= 4200000000 && asn <= 4294967294);
}

/** Why an ASN cannot be used for a BGP peer, or undefined when it can. */
export function reservedAsnReason(asn: number): string | undefined {
  if (!Number.isInteger(asn) || asn < 0 || asn > 4294967295) return 'out of range (ASNs are 32-bit)';
  if (asn === 0) return 'reserved (RFC 7607)';
  if (asn === 23456) return 'reserved as AS_TRANS (RFC 6793)';
  if (asn >= 64496 && asn <= 64511) return 'reserved for documentation (RFC 5398)';
  if (asn === 65535 || asn === 4294967295) return 'reserved (RFC 7300)';
  if (asn >= 65536 && asn <= 65551) return 'reserved for documentation (RFC 5398)';
  if (asn >= 65552 && asn <= 131071) return 'reserved by IANA';
  return undefined;
}
