import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ROOT } from '../helpers/agent';
import { useCluster } from '../helpers/cluster';

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

// What bash offers on Tab after `line`: the script as a user sources it, the completion function
// called as bash calls it, vxnet found on PATH as the user's would be.
function bashComplete(line: string, env: Record<string, string>): string[] {
  const script = [
    'source <(vxnet completion bash)',
    `complete -p vxnet >/dev/null || exit 3`,
    `COMP_LINE=${shq(line)}`,
    'COMP_POINT=${#COMP_LINE}',
    '_vxnet',
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join('\n');
  return shell('bash', script, env);
}

// fish's own completion of a command line (`complete -C`), the script loaded as a user loads it.
function fishComplete(line: string, env: Record<string, string>): string[] {
  return shell('fish', `vxnet completion fish | source; complete -C ${shq(line)}`, env);
}

// zsh's completion system needs a terminal; the function is called as it would call it, with the
// words and position it would set, and _describe (which would filter and show) printing what it got.
function zshComplete(words: string[], env: Record<string, string>): string[] {
  const script = [
    'compdef() { :; }',
    'source <(vxnet completion zsh)',
    '_describe() { print -rl -- "${(@P)argv[-1]}"; }',
    '_files() { :; }',
    `words=(${words.map(shq).join(' ')})`,
    `CURRENT=${words.length}`,
    '_vxnet',
  ].join('\n');
  return shell('zsh', script, env);
}

function shell(name: string, script: string, env: Record<string, string>): string[] {
  const r = spawnSync(name, ['-c', script], {
    encoding: 'utf8',
    timeout: 20000,
    env: { ...process.env, PATH: `${path.join(ROOT, 'bin')}:${process.env.PATH}`, ...env },
  });
  assert.strictEqual(r.status, 0, `${name}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

describe('shell completion (bash, fish, zsh) against a live agent', function () {
  this.timeout(60000);
  const cluster = useCluster({ hosts: 1 });
  let env: Record<string, string>;
  let box: string;

  before(async () => {
    const { agents, topo } = cluster();
    for (const [name, subnet] of [
      ['blue', '10.82.1.0/24'],
      ['bravo', '10.82.2.0/24'],
      ['red', '10.82.3.0/24'],
    ])
      await agents[0].client.create({ name, ipamConfig: [{ subnet }] });
    box = topo.container('cbox');
    env = { VXNET_HOST: `unix://${agents[0].socket}` };
  });

  it('completes `vxnet network c` to connect create', () => {
    assert.deepStrictEqual(bashComplete('vxnet network c', env), ['connect', 'create']);
  });

  it('completes a network name after `network inspect`, from the agent', () => {
    assert.deepStrictEqual(bashComplete('vxnet network inspect ', env), ['blue', 'bravo', 'red']);
    assert.deepStrictEqual(bashComplete('vxnet network inspect b', env), ['blue', 'bravo']);
    assert.deepStrictEqual(bashComplete('vxnet network inspect blue r', env), ['red']);
  });

  it('completes namespace names for `network connect NETWORK`, flags, and filter values', () => {
    assert.ok(bashComplete('vxnet network connect blue ', env).includes(box), `${box} not offered`);
    assert.deepStrictEqual(bashComplete('vxnet network connect --w', env), ['--wait']);
    // Bash replaces only what follows the last `=`: the host name alone.
    assert.deepStrictEqual(bashComplete('vxnet events --filter host=', env), [cluster().topo.hosts[0].name]);
    assert.deepStrictEqual(bashComplete('vxnet network ls -f na', env), ['name=']);
  });

  it('asks the agent that -H names', () => {
    const elsewhere = { VXNET_HOST: 'unix:///nonexistent/vxnet.sock' };
    assert.deepStrictEqual(bashComplete(`vxnet -H unix://${cluster().agents[0].socket} network rm r`, elsewhere), [
      'red',
    ]);
    assert.deepStrictEqual(bashComplete('vxnet network rm r', elsewhere), [], 'no agent: nothing, and no error');
  });

  it('fish and zsh offer the same, with descriptions', () => {
    assert.deepStrictEqual(fishComplete('vxnet network c', env), [
      'connect\tConnect a network namespace to a network',
      'create\tCreate a network',
    ]);
    assert.deepStrictEqual(fishComplete('vxnet network inspect b', env), ['blue', 'bravo']);
    assert.deepStrictEqual(zshComplete(['vxnet', 'network', 'inspect', ''], env), ['blue', 'bravo', 'red']);
    assert.ok(zshComplete(['vxnet', 'network', 'c'], env).includes('connect:Connect a network namespace to a network'));
  });

  it('never writes: the etcd revision is the same after completing every kind of line', async () => {
    const { kv } = cluster();
    const revision = async (): Promise<string> => (await kv.get('/vxnet/v1/').exec()).header.revision;
    const before = await revision();
    for (const line of [
      'vxnet network create ',
      'vxnet network create blue ',
      'vxnet network rm ',
      'vxnet network rm blue ',
      'vxnet network prune ',
      'vxnet network prune -f ',
      `vxnet network connect blue ${box} `,
      `vxnet network disconnect blue ${box} `,
      'vxnet network connect blue ',
      'vxnet host ls ',
      'vxnet events --filter ',
    ])
      bashComplete(line, env);
    assert.strictEqual(await revision(), before);
    const { networks } = await cluster().agents[0].client.list({});
    assert.deepStrictEqual(networks.map((n) => n.name).sort(), ['blue', 'bravo', 'red']);
    assert.deepStrictEqual(
      networks.map((n) => n.endpoints.length),
      [0, 0, 0],
    );
  });
});
