/**
 * A yes/no question on stdin. Anything but y/yes (including end of input) is a no, so a script
 * that forgot `-f` deletes nothing.
 */
import { createInterface } from 'node:readline';

export function confirm(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    let answered = false;
    rl.question(`${question} [y/N] `, (answer) => {
      answered = true;
      rl.close();
      resolve(/^\s*y(es)?\s*$/i.test(answer));
    });
    rl.on('close', () => {
      if (!answered) resolve(false);
    });
  });
}
