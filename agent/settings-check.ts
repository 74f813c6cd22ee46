import type { AgentConfig } from './config';
import type { Level } from '../lib/log';
import type { ConfigPath, SETTINGS } from './settings';

// Compile-time only: each AgentConfig field has a row in SETTINGS whose kind yields the field's
// type, and each row has its field. defaults() returns a CheckedConfig, so a disagreement fails the
// build there, naming the keys.

interface KindType {
  string: string;
  port: number;
  uint: number;
  strings: string[];
  mode: number;
  level: Level;
  format: AgentConfig['log']['format'];
  auto: AgentConfig['docker']['enabled'];
  scope: AgentConfig['docker']['scope'];
  bool: AgentConfig['dns']['enabled'];
  forward: AgentConfig['ipForward'];
}

// The type at "a.b" in T.
type At<T, P extends string> = P extends `${infer H}.${infer R}`
  ? H extends keyof T
    ? At<T[H], R>
    : never
  : P extends keyof T
    ? T[P]
    : never;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// "name", "etcd.caFile", ...: the leaves of a config with one level of sections.
type Fields<T> = {
  [K in keyof T & string]: T[K] extends string | number | unknown[] ? K : `${K}.${keyof T[K] & string}`;
}[keyof T & string];

type Row = (typeof SETTINGS)[number];
type WrongKind = {
  [R in Row as R['yaml']]: Same<At<AgentConfig, ConfigPath<R['yaml']>>, KindType[R['kind']]> extends true
    ? never
    : R['yaml'];
}[Row['yaml']];
type NoRow = Exclude<Fields<AgentConfig>, ConfigPath<Row['yaml']>>;

export type CheckedConfig = [WrongKind, NoRow] extends [never, never]
  ? AgentConfig
  : { settingOfWrongKind: WrongKind; fieldWithoutSetting: NoRow };
