/**
 * One cloud-config `write_files` entry whose content is a literal block (`content: |`).
 * Only for content this library writes: a literal block cannot hold a first line that starts
 * with a space, and every line is indented as YAML requires.
 */
export function cloudConfigBlockFile(path: string, mode: string, content: string): string {
  const body = content.replace(/\n$/, '').split('\n').map((line) => (line.length > 0 ? `      ${line}` : '')).join('\n');
  return [`  - path: ${path}`, '    owner: root:root', `    permissions: '${mode}'`, '    content: |', body].join('\n');
}
