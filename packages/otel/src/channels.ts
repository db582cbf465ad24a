/**
 * The channel names the bridge subscribes to, and the fields of their messages it reads. The recipes' names are
 * copied here (a test asserts they equal `RecipeChannels` of `@etcdkit/recipes`), so that this package does not
 * load the recipes; the client's come from `@etcdkit/client`, a peer dependency.
 */
import { ClientChannels } from '@etcdkit/client';

export type {
  CallEndMessage,
  CallErrorMessage,
  CallInfo,
  CallStartMessage,
  FailoverMessage,
  MemberHealthMessage,
  RequestErrorMessage,
  WatchEventMessage,
  WatchMoveMessage,
} from '@etcdkit/client';

/** The client's channel names. */
export const clientChannels = ClientChannels;

/** The recipes' channel names (`RecipeChannels` of `@etcdkit/recipes`). */
export const recipeChannels = {
  enqueue: 'etcdkit:recipes:enqueue',
  acquired: 'etcdkit:recipes:acquired',
  released: 'etcdkit:recipes:released',
  handoff: 'etcdkit:recipes:handoff',
  atRisk: 'etcdkit:recipes:atRisk',
  lost: 'etcdkit:recipes:lost',
  electionLeader: 'etcdkit:recipes:election:leader',
  registryAdd: 'etcdkit:recipes:registry:add',
  registryRemove: 'etcdkit:recipes:registry:remove',
  registryExpire: 'etcdkit:recipes:registry:expire',
} as const;

/**
 * What the bridge reads of the recipes' messages (a type test asserts the recipes' own message types fit).
 * `acquired`, `released` and `handoff` carry these.
 */
export interface RecipeMessage {
  readonly recipe: string;
  readonly name: string;
}

export interface AcquiredMessage extends RecipeMessage {
  readonly waitMs: number;
}

export interface ReleasedMessage extends RecipeMessage {
  readonly holdMs: number;
}

export interface KeptKeyMessage {
  readonly error: unknown;
}

export interface LeaderMessage {
  readonly name: string;
  readonly self: boolean;
}

export interface RegistryMessage {
  readonly service: string;
}
