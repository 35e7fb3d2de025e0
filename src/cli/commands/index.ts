// The operator commands, in the order `nodepool --help` lists them. Each module registers one
// subcommand on the program. The `daemon` command is added here by its module, like the others.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import * as alienList from './alien-list.js';
import * as configMigrate from './config-migrate.js';
import * as configValidate from './config-validate.js';
import * as daemon from './daemon.js';
import * as del from './delete.js';
import * as failures from './failures.js';
import * as hold from './hold.js';
import * as imageList from './image-list.js';
import * as info from './info.js';
import * as jobCommands from './job-commands.js';
import * as images from './images.js';
import * as labelList from './label-list.js';
import * as list from './list.js';
import * as providerCheck from './provider-check.js';
import * as providerList from './provider-list.js';

export interface CommandModule {
  register(program: Command, ctx: CliContext): void;
}

export const commands: readonly CommandModule[] = [daemon, list, failures, hold, del, imageList, images, labelList, providerList, alienList, info, configValidate, configMigrate, jobCommands, providerCheck];
