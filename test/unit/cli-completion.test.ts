import * as assert from 'assert';
import { main } from '../../cli/main';
import { COMMANDS, Command, flagsOf } from '../../cli/commands';
import { complete, LiveSource } from '../../cli/complete';
import { liveSource, ReadOnlyClient, SCRIPTS } from '../../cli/completion';
import { NETWORK_USAGE } from '../../cli/network';
import type { Io } from '../../cli/network';

function capture(): Io & { text: () => string } {
  let out = '';
  return {
    out: (s) => void (out += s),
    err: (s) => void (out += s),
    isTTY: false,
    ask: () => Promise.resolve('n'),
    text: () => out,
  };
}

const live: LiveSource = {
  values: (kind) =>
    Promise.resolve({ networks: ['blue', 'bravo', 'red'], hosts: ['h1', 'h2'], namespaces: ['c1', 'c2'] }[kind]),
};
const values = async (line: string): Promise<string[]> => (await complete(line.split(' '), live)).map((c) => c.value);

// The "Commands:" block of a usage text: name -> summary.
function commandsBlock(usage: string): Map<string, string> {
  const block = usage.split('Commands:\n')[1].split('\n\n')[0];
  return new Map(
    block.split('\n').map((l) => {
      const m = /^\s+(\S+)\s+(.*)$/.exec(l)!;
      return [m[1], m[2]];
    }),
  );
}
const visible = (list: readonly Command[]): Map<string, string> =>
  new Map(list.filter((c) => !c.hidden).map((c) => [c.name, c.summary]));

describe('CLI command table and completion', () => {
  it('the table has the commands and summaries that vxnet --help and vxnet network --help list', async () => {
    const io = capture();
    assert.strictEqual(await main(['--help'], io), 0);
    assert.deepStrictEqual(visible(COMMANDS), commandsBlock(io.text()));
    const network = COMMANDS.find((c) => c.name === 'network')!;
    assert.deepStrictEqual(visible(network.subcommands!), commandsBlock(NETWORK_USAGE));
  });

  it('main() runs every command of the table (its --help answers 0)', async () => {
    // The agent prints its own usage to stdout (and is run by the integration tests).
    for (const c of COMMANDS.filter((x) => !x.hidden && x.name !== 'agent')) {
      const paths = c.subcommands
        ? [
            [c.name],
            ...c.subcommands.filter((s) => flagsOf(s).some((f) => f.key === 'help')).map((s) => [c.name, s.name]),
          ]
        : [[c.name]];
      for (const p of paths) {
        const io = capture();
        assert.strictEqual(await main([...p, '--help'], io), 0, `vxnet ${p.join(' ')} --help: ${io.text()}`);
        assert.match(io.text(), /^Usage: /, `vxnet ${p.join(' ')} --help`);
      }
    }
  });

  const cases: [string, string[]][] = [
    ['network c', ['connect', 'create', 'disconnect', 'inspect', 'ls', 'prune', 'rm']], // the shell filters
    ['', ['agent', 'completion', 'doctor', 'events', 'host', 'network', 'version']],
    ['-H unix:///x ', ['agent', 'completion', 'doctor', 'events', 'host', 'network', 'version']],
    ['-H ', []],
    ['network inspect ', ['blue', 'bravo', 'red']],
    ['network inspect blue ', ['blue', 'bravo', 'red']],
    ['network rm -f ', ['blue', 'bravo', 'red']],
    ['network connect ', ['blue', 'bravo', 'red']],
    ['network connect --ip 10.0.0.9 blue ', ['c1', 'c2']],
    ['network connect blue c1 ', []],
    ['network disconnect -f blue ', ['c1', 'c2']],
    ['network create -d ', ['overlay']],
    ['network create blue ', []],
    ['network ls --filter ', ['driver=', 'id=', 'label=', 'name=', 'scope=', 'type=']],
    ['network ls -f name=', ['name=blue', 'name=bravo', 'name=red']],
    ['network ls --filter=name=b', ['--filter=name=blue', '--filter=name=bravo', '--filter=name=red']],
    ['network ls --q', ['-h', '--help', '-f', '--filter', '--format', '--no-trunc', '-q', '--quiet']],
    ['events --filter host=', ['host=h1', 'host=h2']],
    ['events --filter type=', ['type=network', 'type=endpoint', 'type=host']],
    ['host ', ['ls', 'rm']],
    ['host rm ', ['h1', 'h2']],
    ['completion ', ['bash', 'zsh', 'fish']],
    ['nosuch ', []],
    ['network nosuch ', []],
  ];
  for (const [line, want] of cases)
    it(`"${line}" -> ${want.join(' ') || '(nothing)'}`, async () => assert.deepStrictEqual(await values(line), want));

  it('the agent’s flags come from its settings table', async () => {
    const got = await values('agent --');
    for (const f of ['--config', '--check-config', '--name', '--vtep', '--etcd', '--lease-ttl', '--metrics'])
      assert.ok(got.includes(f), f);
  });

  it('completion never calls anything but List and ListHosts, whatever the line', async () => {
    const calls: string[] = [];
    const client = new Proxy({} as ReadOnlyClient, {
      get: (_t, name: string) => {
        calls.push(name);
        if (name === 'list') return () => Promise.resolve({ networks: [{ name: 'blue' }] });
        if (name === 'listHosts') return () => Promise.resolve({ hosts: [{ name: 'h1' }] });
        throw new Error(`completion called ${name}`);
      },
    });
    const src = liveSource(() => client, '/nonexistent');
    const lines: string[] = [];
    const walk = (prefix: string, list: readonly Command[]): void => {
      for (const c of list) {
        const here = `${prefix}${c.name} `;
        lines.push(here, `${here}-`);
        for (const f of flagsOf(c)) {
          const flag = f.names[f.names.length - 1];
          lines.push(`${here}${flag} `, `${here}${f.names[0]} x `);
          const v = c.flagValues?.[f.key];
          if (v && 'filter' in v) for (const k of Object.keys(v.filter)) lines.push(`${here}${flag} ${k}=`);
        }
        lines.push(`${here}blue `, `${here}blue c1 `, `${here}blue c1 x `);
        if (c.subcommands) walk(here, c.subcommands);
      }
    };
    walk('', COMMANDS);
    for (const line of lines) await complete(line.split(' '), src);
    assert.ok(lines.length > 100);
    assert.deepStrictEqual([...new Set(calls)].sort(), ['list', 'listHosts']);
  });

  it('vxnet completion prints each shell’s script, which runs vxnet __complete', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const io = capture();
      assert.strictEqual(await main(['completion', shell], io), 0);
      assert.strictEqual(io.text(), SCRIPTS[shell]);
      assert.match(io.text(), /__complete/);
    }
    const io = capture();
    assert.strictEqual(await main(['completion', 'tcsh'], io), 125);
    assert.match(io.text(), /unknown shell "tcsh"/);
  });
});
