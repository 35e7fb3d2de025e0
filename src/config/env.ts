// ${ENV_VAR} substitution on the raw text, before YAML parsing, so that `ssh-port: ${PORT}` reads
// as a number. `$${X}` stands for a literal `${X}`. References inside comments are left alone.
// The result keeps enough bookkeeping to map every offset back to the original text and to tell
// which parts of the new text came from the environment: those must never appear in a message.

export interface EnvRegion {
  /** Offsets in the substituted text. */
  start: number;
  end: number;
  name: string;
  /** False when the reference could not be resolved and was left in place as written. */
  resolved: boolean;
}

export interface EnvProblem {
  /** Offset of the `$` in the substituted text (the reference is left in place). */
  offset: number;
  message: string;
}

export interface Substitution {
  text: string;
  regions: EnvRegion[];
  problems: EnvProblem[];
  /** Maps an offset in the substituted text to the offset in the original text. */
  toOriginal(offset: number): number;
}

interface Edit {
  newStart: number;
  newEnd: number;
  origStart: number;
  origEnd: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function substituteEnv(
  text: string,
  env: Record<string, string | undefined>,
  skip: ReadonlyArray<readonly [number, number]> = [],
): Substitution {
  const out: string[] = [];
  const edits: Edit[] = [];
  const regions: EnvRegion[] = [];
  const problems: EnvProblem[] = [];
  let newLength = 0;
  let copied = 0;
  const emit = (s: string) => {
    out.push(s);
    newLength += s.length;
  };
  const inSkipped = (i: number) => skip.some(([s, e]) => i >= s && i < e);

  for (let i = text.indexOf('$'); i !== -1; i = text.indexOf('$', i + 1)) {
    if (inSkipped(i)) continue;
    const escaped = text.startsWith('$${', i);
    if (!escaped && !text.startsWith('${', i)) continue;
    emit(text.slice(copied, i));
    const newStart = newLength;
    if (escaped) {
      emit('${');
      edits.push({ newStart, newEnd: newLength, origStart: i, origEnd: i + 3 });
      copied = i + 3;
      i += 2;
      continue;
    }
    const close = text.indexOf('}', i);
    const eol = text.indexOf('\n', i);
    const end = close === -1 || (eol !== -1 && eol < close) ? -1 : close + 1;
    const ref = end === -1 ? text.slice(i, eol === -1 ? text.length : eol) : text.slice(i, end);
    const name = end === -1 ? '' : ref.slice(2, -1);
    const value = NAME.test(name) ? env[name] : undefined;
    let problem: string | undefined;
    if (end === -1) problem = `unterminated "\${": write \${NAME}, or $\${ for a literal "\${"`;
    else if (!NAME.test(name)) problem = `bad variable reference "${ref}": expected \${NAME} with NAME of letters, digits and "_"`;
    else if (value === undefined) problem = `environment variable ${name} is not set`;
    else if (/[\r\n]/.test(value)) problem = `environment variable ${name} contains a line break, which a config value may not`;

    if (problem !== undefined || value === undefined) {
      problem ??= `environment variable ${name} is not set`;
      // Leave the reference as written so the YAML still parses and the key path can be found.
      problems.push({ offset: newStart, message: problem });
      if (end !== -1) {
        emit(ref);
        regions.push({ start: newStart, end: newLength, name, resolved: false });
        copied = end;
        i = end - 1;
      } else {
        copied = i;
      }
      continue;
    }
    emit(value);
    edits.push({ newStart, newEnd: newLength, origStart: i, origEnd: end });
    regions.push({ start: newStart, end: newLength, name, resolved: true });
    copied = end;
    i = end - 1;
  }
  emit(text.slice(copied));

  const toOriginal = (offset: number): number => {
    let delta = 0;
    for (const e of edits) {
      if (offset < e.newStart) break;
      // Anything inside a substituted value points at the `$` of its reference.
      if (offset < e.newEnd) return e.origStart;
      delta = e.origEnd - e.newEnd;
    }
    return offset + delta;
  };
  return { text: out.join(''), regions, problems, toOriginal };
}
