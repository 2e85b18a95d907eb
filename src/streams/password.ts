import { randomInt as cryptoRandomInt } from 'node:crypto';
import { ToolError } from '../errors.js';

/**
 * Initial passwords for users created without a `passwordProfile` (DESIGN §4). Entra ID wants 8 to 256
 * characters from at least three of four classes; we always use all four and at least 16 characters.
 * The symbols are a subset of Entra's allowed ones without quotes, comma, backslash, space or
 * angle brackets, so that the password survives a CSV cell, a shell and a JSON string unharmed.
 */

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
const SYMBOLS = '!#$%&*+-=?@^_~.';
/** The four character classes a generated password always draws from (ambiguous l/I/O/0/1 left out). */
export const PASSWORD_CLASSES = [LOWER, UPPER, DIGITS, SYMBOLS] as const;

export interface GeneratePasswordOptions {
  /** 16 to 256; default 20. */
  length?: number;
  /** A uniform random integer in `[0, max)`; crypto's by default, injectable for tests. */
  randomInt?: (max: number) => number;
}

/**
 * A crypto-random password with at least one character of each class, shuffled so that the class
 * characters are not at predictable positions.
 *
 * @example generatePassword() // 'q7#Tm…' (20 characters)
 */
export function generatePassword(options: GeneratePasswordOptions = {}): string {
  const length = options.length ?? 20;
  if (!Number.isInteger(length) || length < 16 || length > 256)
    throw new ToolError('ERR_INVALID_OPTION', `password length must be 16 to 256, got ${length}`);
  const random = options.randomInt ?? ((max: number) => cryptoRandomInt(max));
  const pick = (set: string): string => set[random(set.length)]!;
  const all = PASSWORD_CLASSES.join('');
  const chars = PASSWORD_CLASSES.map(pick);
  while (chars.length < length) chars.push(pick(all));
  // Fisher-Yates with the same random source: uniform over all orders.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
