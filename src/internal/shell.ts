/**
 * Quotes one word for bash and POSIX sh: single quotes, with each `'` written as `'\''`.
 * Safe for CDK tokens too (their string form has no quote), so a token inside stays a token.
 */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, '\'\\\'\'')}'`;
}
