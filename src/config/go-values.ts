// Go's strconv.ParseBool and base64.StdEncoding decoding, shared by the flag parser (src/cli) and the
// controllers, which parse kube-router.io/* annotations with the same functions upstream uses.
import { err, ok, type Result } from '../result.ts';

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parseGoBool(text: string): Result<boolean> {
  if (TRUE_WORDS.has(text)) return ok(true);
  if (FALSE_WORDS.has(text)) return ok(false);
  return err('not a boolean (use true or false)');
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard padded base64 as Go's base64.StdEncoding does (CR and LF are ignored, nothing else is). */
export function decodeStrictBase64(text: string): Result<string> {
  const compact = text.replace(/[\r\n]/g, '');
  if (!STRICT_BASE64.test(compact)) return err('not valid base64 (standard alphabet, padded)');
  return ok(Buffer.from(compact, 'base64').toString('utf8'));
}
