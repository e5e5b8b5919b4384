// The --help screen, generated from the flag table: one section per group, each flag with its one-letter
// form, type word (as pflag prints it), description and default.
import { formatValue, parseValue, TYPE_HINT } from './flag-kinds.ts';
import { FLAG_GROUPS, type AnyFlagSpec } from './flag-specs.ts';

/** Starts the note on a flag accepted for upstream compatibility that changes nothing in this build. */
export const NO_EFFECT_MARK = '[accepted, no effect: ';

function leftColumn(spec: AnyFlagSpec): string {
  const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
  const hint = TYPE_HINT[spec.kind];
  return `  ${short}--${spec.name}${hint === '' ? '' : ` ${hint}`}`;
}

function defaultShown(spec: AnyFlagSpec): string {
  const parsed = parseValue(spec.kind, spec.defaultText);
  return parsed.ok ? formatValue(spec.kind, parsed.value) : spec.defaultText;
}

export function helpText(specs: readonly AnyFlagSpec[]): string {
  const width = Math.max(...specs.map((spec) => leftColumn(spec).length)) + 3;
  const lines = [
    'Usage: kube-router [flags]',
    '',
    'Kubernetes networking on every node: BGP pod routing, an IPVS service proxy and a NetworkPolicy firewall.',
    'Flags take values as --flag value or --flag=value; booleans only as --flag or --flag=false.',
    'List flags take comma-separated values and may be repeated. Durations look like 90s, 5m0s, 1h30m.',
  ];
  for (const group of FLAG_GROUPS) {
    const members = specs.filter((spec) => spec.group === group);
    if (members.length === 0) continue;
    lines.push('', `${group}:`);
    for (const spec of members) {
      const noEffect = spec.noEffect === undefined ? '' : ` ${NO_EFFECT_MARK}${spec.noEffect}]`;
      lines.push(`${leftColumn(spec).padEnd(width)}${spec.help}${noEffect} (default ${defaultShown(spec)})`);
    }
  }
  return `${lines.join('\n')}\n`;
}
