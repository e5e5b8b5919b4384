// The last valid value of each per-node routing setting (one kube-router.io/* annotation, or a group read as one,
// such as the external peers): a setting that turns invalid keeps that value, or the default if it never had a
// valid one, and the bad value becomes a Problem on its Node. Plain in-memory data, no I/O.
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Result } from '../../result.ts';
import type { Problem } from './model.ts';

export class LastGoodSettings {
  /** node name -> setting name -> last valid value */
  private readonly byNode = new Map<string, Map<string, unknown>>();

  /**
   * The value to use for `setting` of `node`: the parsed one when valid (and then remembered), else the last valid
   * one, else `fallback`; a bad value is added to `problems` with `reason`.
   */
  settle<T>(node: Node, setting: string, parsed: Result<T>, fallback: T, reason: string, problems: Problem[]): T {
    const name = node.metadata?.name ?? '';
    let remembered = this.byNode.get(name);
    if (parsed.ok) {
      if (!remembered) this.byNode.set(name, (remembered = new Map()));
      remembered.set(setting, parsed.value);
      return parsed.value;
    }
    const kept = remembered?.has(setting) === true;
    const outcome = kept ? 'the last valid value is kept' : 'the default is used';
    problems.push({ subject: node, reason, message: `${parsed.error}; ${outcome}` });
    return kept ? remembered!.get(setting) as T : fallback;
  }

  /** Forgets the settings of nodes that are gone (a node re-created under the same name starts afresh). */
  retainNodes(names: ReadonlySet<string>): void {
    for (const name of this.byNode.keys()) if (!names.has(name)) this.byNode.delete(name);
  }
}
