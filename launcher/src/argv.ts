/**
 * A command line read against its command's declaration (flags.ts):
 * util.parseArgs splits it into tokens, and each token is checked here
 * against the declared options, so that the parsing, its errors, the
 * yolo-lab.json checks and `--help` all come from the one table.
 */
import { parseArgs } from 'node:util';

import { UsageError } from './errors';

/** One option of a command, as flags.ts declares it. */
export interface OptionSpec {
  /** A string, a flag without a value, or a whole number (within min and max). */
  readonly type: 'string' | 'boolean' | 'integer';
  /** What it does, for --help (the default is added from `default`). */
  readonly help: string;
  /** The value's name in --help and the usage line (NAME, PATH, N). */
  readonly arg?: string;
  /** Its value when neither the command line nor yolo-lab.json gives one. */
  readonly default?: string | number | boolean;
  /** Its key in yolo-lab.json (camelCase), where it may be set too. */
  readonly config?: string;
  /** The only values it takes. */
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** What a whole number must be, as its errors say it ("a port number from 0 to 65535"). */
  readonly what?: string;
  /** Given again, it adds a value to a list instead of replacing it. */
  readonly multiple?: boolean;
}

/** A command's options by name (without the leading --). */
export type Options = Readonly<Record<string, OptionSpec>>;

/** The arguments that are not options (container names). */
export interface ArgsSpec {
  /** As the usage line shows them ("[NAME]"). */
  readonly synopsis: string;
  /** At most this many; none: any number. */
  readonly max?: number;
  /** What one is, for the error when there are too many ("container name"). */
  readonly noun?: string;
  /** Said after that error. */
  readonly hint?: string;
}

/** One command: its options, arguments and help. */
export interface CommandSpec {
  /** As typed after `yolo-lab` ("up", "classroom init"). */
  readonly name: string;
  readonly summary: string;
  readonly options: Options;
  /** Absent: the command takes no arguments besides its options. */
  readonly args?: ArgsSpec;
  /** Paragraphs at the end of its --help. */
  readonly notes?: readonly string[];
}

/** Commands under one name (`yolo-lab classroom init`). */
export interface GroupSpec {
  readonly name: string;
  /** For the overview (`yolo-lab help`). */
  readonly summary: string;
  readonly commands: Readonly<Record<string, CommandSpec>>;
}

type ValueOf<O extends OptionSpec> = O['type'] extends 'boolean'
  ? boolean
  : O['type'] extends 'integer'
    ? number
    : O extends { readonly multiple: true }
      ? string[]
      : O extends { readonly choices: readonly (infer C)[] }
        ? C
        : string;

/** What a command line gave: each option it named, typed. */
export type Values<O extends Options> = { -readonly [K in keyof O]?: ValueOf<O[K]> };

/** Each option's value once yolo-lab.json and the defaults are applied (a flag not given: false). */
export type Settings<O extends Options> = {
  -readonly [K in keyof O]: O[K] extends { readonly default: unknown } | { readonly type: 'boolean' }
    ? ValueOf<O[K]>
    : ValueOf<O[K]> | undefined;
};

/** The yolo-lab.json keys of a command's options, typed as the options are. */
export type ConfigOf<O extends Options> = {
  -readonly [K in keyof O as O[K] extends { readonly config: infer C extends string } ? C : never]?: ValueOf<
    O[K]
  >;
};

/** A token of util.parseArgs (`tokens: true`). */
export type Token =
  | { kind: 'option'; index: number; name: string; rawName: string; value?: string; inlineValue?: boolean }
  | { kind: 'positional'; index: number; value: string }
  | { kind: 'option-terminator'; index: number };

/** Thrown when a command line asks for --help (or -h): the text to print instead of running it. */
export class HelpRequest extends Error {
  constructor(readonly text: string) {
    super('help requested');
    this.name = 'HelpRequest';
  }
}

/** Every command takes it; it is not declared with each. */
const HELP: OptionSpec = { type: 'boolean', help: 'show this help' };

/**
 * Read a command line against its declaration: every option known and of
 * its type, whole numbers and choices checked, no more arguments than the
 * command takes. --help (or -h) throws a HelpRequest with the command's
 * help. `inspect` sees each token before it is checked.
 */
export function parseCommand<S extends CommandSpec>(
  spec: S,
  args: string[],
  inspect?: (token: Token) => void
): { values: Values<S['options']>; positionals: string[] } {
  const declared: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' }
  };
  for (const [name, option] of Object.entries(spec.options)) {
    declared[name] = {
      type: option.type === 'boolean' ? 'boolean' : 'string',
      multiple: option.multiple ?? false
    };
  }
  // Not strict: the mistakes are named here, with the command's own usage.
  const { tokens } = parseArgs({
    args,
    options: declared,
    strict: false,
    allowPositionals: true,
    tokens: true
  });
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (const token of tokens as Token[]) {
    inspect?.(token);
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    if (token.name === 'help') throw new HelpRequest(commandHelp(spec));
    const option = Object.hasOwn(spec.options, token.name) ? spec.options[token.name] : undefined;
    if (option === undefined) {
      const near = nearest(token.name, Object.keys(spec.options));
      throw usageError(
        spec,
        `${spec.name} takes no option ${token.rawName}${near !== undefined ? ` (did you mean --${near}?)` : ''}.`,
        'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      );
    }
    const value = optionValue(spec, option, token);
    values[token.name] = option.multiple
      ? [...((values[token.name] as string[] | undefined) ?? []), value]
      : value;
  }
  const max = spec.args === undefined ? 0 : spec.args.max;
  if (max !== undefined && positionals.length > max) {
    const given = positionals.join(' ');
    const { noun = 'argument', hint } = spec.args ?? {};
    throw usageError(
      spec,
      max === 0
        ? `${spec.name} takes no arguments besides its options, not "${given}".`
        : `${spec.name} takes ${max === 1 ? `one ${noun}` : `at most ${max} ${noun}s`}, ` +
            `not ${positionals.length} (${given}).${hint !== undefined ? ` ${hint}` : ''}`,
      'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
    );
  }
  return { values: values as Values<S['options']>, positionals };
}

/** An option token's value, of the option's type. */
function optionValue(
  spec: CommandSpec,
  option: OptionSpec,
  token: Extract<Token, { kind: 'option' }>
): string | number | boolean {
  const flag = token.rawName;
  if (option.type === 'boolean') {
    if (token.value !== undefined) {
      throw usageError(
        spec,
        `${flag} takes no value, not "${token.value}".`,
        'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
      );
    }
    return true;
  }
  // An option where the value should be was most likely not meant as it
  // (`--host --json`); `--host=-x` says it was. A negative number is a value, a wrong one.
  const optionLike =
    !token.inlineValue &&
    token.value?.startsWith('-') === true &&
    !(option.type === 'integer' && /^-\d+$/.test(token.value));
  if (token.value === undefined || token.value === '' || optionLike) {
    throw usageError(
      spec,
      `${flag} needs a value${option.arg !== undefined ? ` (${option.arg})` : ''}.`,
      'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
    );
  }
  const text = token.value;
  if (option.type === 'integer' && !(/^\d+$/.test(text) && inRange(option, Number(text)))) {
    throw usageError(
      spec,
      `${flag} needs ${integerWhat(option)}, not "${text}".`,
      'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
    );
  }
  if (option.choices !== undefined && !option.choices.includes(text)) {
    throw usageError(
      spec,
      `${flag} takes ${choiceList(option.choices)}, not "${text}".`,
      'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
    );
  }
  return option.type === 'integer' ? Number(text) : text;
}

/**
 * What a yolo-lab.json value for this option must be, when it is not that:
 * the JSON type of the flag's value ("false" in quotes is a string, not
 * false), a whole number in range, one of the choices.
 */
export function configValueProblem(option: OptionSpec, value: unknown): string | undefined {
  switch (option.type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'true or false (without quotes)';
    case 'integer':
      return Number.isInteger(value) && inRange(option, value as number) ? undefined : integerWhat(option);
    case 'string':
      if (typeof value !== 'string') return 'a string';
      if (option.choices !== undefined && !option.choices.includes(value)) return choiceList(option.choices);
      return undefined;
  }
}

/**
 * Each option's value: the command line's, else yolo-lab.json's (under the
 * option's key), else its default (false for a flag without a value).
 */
export function settings<O extends Options>(
  options: O,
  values: Values<O>,
  config: Readonly<Record<string, unknown>> = {}
): Settings<O> {
  const merged: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(options)) {
    merged[name] =
      (values as Record<string, unknown>)[name] ??
      (option.config !== undefined ? config[option.config] : undefined) ??
      option.default ??
      (option.type === 'boolean' ? false : undefined);
  }
  return merged as Settings<O>;
}

/** The commands of a table, those of its groups included. */
export function allCommands(table: Readonly<Record<string, CommandSpec | GroupSpec>>): CommandSpec[] {
  return Object.values(table).flatMap(entry =>
    'commands' in entry ? Object.values(entry.commands) : [entry]
  );
}

function inRange(option: OptionSpec, n: number): boolean {
  return n >= (option.min ?? 0) && (option.max === undefined || n <= option.max);
}

function integerWhat(option: OptionSpec): string {
  if (option.what !== undefined) return option.what;
  const min = option.min ?? 0;
  return option.max === undefined
    ? `a whole number of at least ${min}`
    : `a whole number from ${min} to ${option.max}`;
}

function choiceList(choices: readonly string[]): string {
  if (choices.length === 1) return `only ${choices[0]}`;
  return `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
}

/** The declared option a mistyped one most likely meant (a letter or two off), if any. */
function nearest(name: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const candidate of names) {
    // Levenshtein distance, one row at a time.
    let row = Array.from({ length: candidate.length + 1 }, (_, i) => i);
    for (let i = 1; i <= name.length; i++) {
      const next = [i];
      for (let j = 1; j <= candidate.length; j++) {
        const same = name[i - 1] === candidate[j - 1] ? 0 : 1;
        next.push(Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + same));
      }
      row = next;
    }
    if (row[candidate.length] < bestDistance) {
      best = candidate;
      bestDistance = row[candidate.length];
    }
  }
  return best;
}

function usageError(spec: CommandSpec, message: string, code: UsageError['code']): UsageError {
  return new UsageError(`${message}\n${usageLine(spec)}`, code);
}

/** Up to this many options are shown in the usage line; more are `[options]`, listed below it. */
const INLINE_OPTIONS = 5;
/** Where the help text of an option or command starts, and where lines end. */
const COLUMN = 31;
const WIDTH = 100;

function listsOptions(spec: CommandSpec): boolean {
  return Object.keys(spec.options).length > INLINE_OPTIONS;
}

/** The command's usage after its name: its options (or `[options]`) and arguments. */
export function synopsis(spec: CommandSpec): string {
  const options = listsOptions(spec)
    ? ['[options]']
    : Object.entries(spec.options).map(
        ([name, o]) => `[--${name}${o.arg !== undefined ? ` ${o.arg}` : ''}${o.multiple ? ' ...' : ''}]`
      );
  return [...options, ...(spec.args !== undefined ? [spec.args.synopsis] : [])].join(' ');
}

function usageLine(spec: CommandSpec): string {
  const line = `Usage: yolo-lab ${spec.name} ${synopsis(spec)}`;
  return listsOptions(spec) ? `${line} (\`yolo-lab ${spec.name} --help\` lists them)` : line;
}

/** Words filled into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(w => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return line === '' ? lines : [...lines, line];
}

/** `left`, then `text` from COLUMN on, wrapped (below `left` when it is too wide). */
function columns(left: string, text: string): string[] {
  const lines = wrap(text, WIDTH - COLUMN);
  const pad = ' '.repeat(COLUMN);
  if (left.length < COLUMN - 1 && lines.length > 0) {
    return [left.padEnd(COLUMN) + lines[0], ...lines.slice(1).map(l => pad + l)];
  }
  return [left, ...lines.map(l => pad + l)];
}

function optionLines(options: Options): string[] {
  return Object.entries(options).flatMap(([name, o]) => {
    const shown = o.default === undefined || o.default === false ? '' : ` (default ${o.default})`;
    const more = o.multiple ? ' (may be given more than once)' : '';
    return columns(`      --${name}${o.arg !== undefined ? ` ${o.arg}` : ''}`, `${o.help}${more}${shown}`);
  });
}

/** Which yolo-lab.json keys set the command's options, when any do. */
function configNote(options: Options): string | undefined {
  const keys = Object.entries(options)
    .filter(([, o]) => o.config !== undefined)
    .map(([name, o]) => (o.config === name ? o.config! : `${o.config} (--${name})`));
  if (keys.length === 0) return undefined;
  return (
    `yolo-lab.json ${'config' in options ? '(or the --config FILE)' : 'in this folder'} may set these too, ` +
    `a flag winning over it; its keys: ${keys.join(', ')}.`
  );
}

/** `yolo-lab COMMAND --help`. */
export function commandHelp(spec: CommandSpec): string {
  const notes = [...(spec.notes ?? []), configNote(spec.options)].filter((n): n is string => n !== undefined);
  return [
    `yolo-lab ${spec.name} ${synopsis(spec)}`,
    ...wrap(spec.summary, WIDTH - 2).map(l => `  ${l}`),
    '',
    ...optionLines(spec.options),
    ...optionLines({ help: HELP }),
    ...notes.flatMap(note => ['', ...wrap(note, WIDTH - 2).map(l => `  ${l}`)])
  ].join('\n');
}

/** `yolo-lab GROUP --help`: each of its commands' help. */
export function groupHelp(group: GroupSpec): string {
  return Object.values(group.commands).map(commandHelp).join('\n\n');
}

/**
 * `yolo-lab help`: each command's usage and summary, with the options of
 * those whose usage line cannot show them (the commands of a group: their
 * summary only).
 */
export function overviewHelp(
  title: string,
  table: Readonly<Record<string, CommandSpec | GroupSpec>>,
  footer: readonly string[]
): string {
  const lines = [title, ''];
  for (const entry of Object.values(table)) {
    const commands = 'commands' in entry ? Object.values(entry.commands) : [entry];
    for (const spec of commands) {
      lines.push(...columns(`  yolo-lab ${spec.name} ${synopsis(spec)}`, entry.summary));
      if (!('commands' in entry) && listsOptions(spec)) lines.push(...optionLines(spec.options));
    }
  }
  for (const paragraph of footer) lines.push('', ...wrap(paragraph, WIDTH));
  return lines.join('\n');
}
