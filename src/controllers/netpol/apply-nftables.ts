// The nftables backend's door to the kernel: reads back only our tables (kube-router-filter-ipv4/-ipv6) and
// applies a whole sync as ONE `nft -f` transaction, so the old ruleset is replaced atomically with no window
// in which base chains are empty or missing.
import { ok, type Result } from '../../kube/result.ts';
import { metrics } from '../../observe/metrics.ts';
import { secondsSince, type NetpolExec } from './apply-exec.ts';
import { FAMILIES, type Family } from './model.ts';
import { nftTableName, renderNftDelete } from './render-nft.ts';

const nftFamily = (family: Family): string => (family === 'ipv4' ? 'ip' : 'ip6');

export class NftApplier {
  constructor(private readonly exec: NetpolExec) {}

  /** Which of our tables exist. */
  async ourTables(): Promise<Result<Family[]>> {
    const r = await this.exec.run('nft', ['list', 'tables']);
    if (!r.ok) return r;
    const lines = new Set(r.value.split('\n').map((l) => l.trim()));
    return ok(FAMILIES.filter((f) => lines.has(`table ${nftFamily(f)} ${nftTableName(f)}`)));
  }

  /** Our tables as `nft -j` JSON text per family (absent tables are missing from the map). */
  async observe(families: readonly Family[]): Promise<Result<Map<Family, string>>> {
    const present = await this.ourTables();
    if (!present.ok) return present;
    const out = new Map<Family, string>();
    for (const f of families.filter((x) => present.value.includes(x))) {
      const start = process.hrtime.bigint();
      const r = await this.exec.run('nft', ['-j', 'list', 'table', nftFamily(f), nftTableName(f)]);
      (f === 'ipv4' ? metrics.iptablesV4SaveTime : metrics.iptablesV6SaveTime).observe(secondsSince(start));
      if (!r.ok) return r;
      out.set(f, r.value);
    }
    return ok(out);
  }

  /** Runs one transaction (all families' text concatenated). */
  async apply(transaction: string): Promise<Result<void>> {
    const start = process.hrtime.bigint();
    const r = await this.exec.run('nft', ['-f', '-'], transaction);
    metrics.iptablesV4RestoreTime.observe(secondsSince(start));
    return r.ok ? ok(undefined) : r;
  }

  /** Deletes our tables of these families that exist (backend switch, cleanup), in one transaction. */
  async removeAll(families: readonly Family[]): Promise<Result<boolean>> {
    const present = await this.ourTables();
    if (!present.ok) return present;
    const gone = families.filter((f) => present.value.includes(f));
    if (gone.length === 0) return ok(false);
    const r = await this.exec.run('nft', ['-f', '-'], gone.map(renderNftDelete).join(''));
    return r.ok ? ok(true) : r;
  }
}
