// `vxnet completion bash|zsh|fish` prints a script that, on Tab, runs `vxnet __complete` with the
// words typed so far and offers what it prints (./complete). The scripts know no command, flag or
// value themselves: a new flag is completed as soon as the table has it.
import * as fs from 'fs';
import type { VxClient } from '../control/client';
import { UsageError } from './args';
import type { Live } from './commands';
import { complete, LiveSource } from './complete';
import type { Io } from './network';

const BASH = `# vxnet bash completion: source <(vxnet completion bash), or save it as
# /usr/share/bash-completion/completions/vxnet
_vxnet() {
  local line=\${COMP_LINE:0:COMP_POINT} out l cur strip
  local -a words cands
  # Split by spaces only (bash's own COMP_WORDS also splits at = and :, which filters use).
  read -ra words <<<"$line"
  [[ $line == *[[:space:]] || \${#words[@]} -eq 0 ]] && words+=("")
  cur=\${words[\${#words[@]}-1]}
  out=$("\${words[0]}" __complete "\${words[@]:1}" 2>/dev/null) || return 0
  while IFS= read -r l; do [[ -n $l ]] && cands+=("\${l%%$'\\t'*}"); done <<<"$out"
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "\${cands[*]}" -- "$cur"))
  # What bash replaces starts after the last = or : of the word.
  strip=\${cur%"\${cur##*[=:]}"}
  [[ -n $strip ]] && COMPREPLY=("\${COMPREPLY[@]#"$strip"}")
  [[ \${#COMPREPLY[@]} -eq 1 && \${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
  return 0
}
complete -o default -F _vxnet vxnet
`;

const ZSH = `#compdef vxnet
# vxnet zsh completion: source <(vxnet completion zsh) after compinit, or save it as _vxnet in a
# directory of $fpath
_vxnet() {
  local line value desc
  local -a cands
  for line in "\${(@f)$("\${words[1]}" __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}"; do
    [[ -n $line ]] || continue
    value=\${line%%$'\\t'*}
    desc=
    [[ $line == *$'\\t'* ]] && desc=\${line#*$'\\t'}
    cands+=("\${value//:/\\\\:}\${desc:+:$desc}")
  done
  if (( \${#cands} )); then _describe -t values vxnet cands; else _files; fi
}
if [[ $funcstack[1] == _vxnet ]]; then _vxnet "$@"; else compdef _vxnet vxnet; fi
`;

const FISH = `# vxnet fish completion: vxnet completion fish | source, or save it as
# ~/.config/fish/completions/vxnet.fish
function __vxnet_complete
    set -l words (commandline -opc)
    set -a words (commandline -ct)
    $words[1] __complete $words[2..-1] 2>/dev/null
end
complete -c vxnet -f -a '(__vxnet_complete)'
`;

export const SCRIPTS: Record<string, string> = { bash: BASH, zsh: ZSH, fish: FISH };

const USAGE = `Usage:  vxnet completion bash|zsh|fish

Print a shell completion script: commands, subcommands, flags, and network, host and namespace
names read from the agent and /run/netns (read-only calls only).

  bash:  source <(vxnet completion bash)
  zsh:   source <(vxnet completion zsh)      (after compinit)
  fish:  vxnet completion fish | source
`;

export function runCompletion(argv: string[], io: Io): number {
  const [shell, ...extra] = argv;
  if (shell === undefined || shell === '-h' || shell === '--help') {
    io.out(USAGE);
    return 0;
  }
  if (!(shell in SCRIPTS) || extra.length)
    throw Object.assign(new UsageError(`unknown shell "${argv.join(' ')}": use bash, zsh or fish`), {
      command: 'vxnet completion',
    });
  io.out(SCRIPTS[shell]);
  return 0;
}

// What completion may call: reads, bounded in time, failures as nothing to offer.
export type ReadOnlyClient = Pick<VxClient, 'list' | 'listHosts'>;

export function liveSource(client: () => ReadOnlyClient, netnsDir = '/run/netns'): LiveSource {
  const deadlineMs = 2000;
  return {
    async values(kind: Live): Promise<string[]> {
      try {
        switch (kind) {
          case 'networks':
            return (await client().list({}, { deadlineMs })).networks.map((n) => n.name).sort();
          case 'hosts':
            return (await client().listHosts({}, { deadlineMs })).hosts.map((h) => h.name).sort();
          case 'namespaces':
            return fs.readdirSync(netnsDir).sort();
        }
      } catch {
        return [];
      }
    },
  };
}

export async function runComplete(words: string[], live: LiveSource, io: Io): Promise<number> {
  const found = await complete(words, live);
  io.out(found.map((c) => (c.description ? `${c.value}\t${c.description}\n` : `${c.value}\n`)).join(''));
  return 0;
}
