"""The bot's own settings: getMe, commands per scope and language, the menu button, name and descriptions."""

from __future__ import annotations

import json
import re

from emulator.models import JSON, bad_request
from emulator.state import EmulatorState
from emulator.transport import Handler, Params

BOT_SETTINGS = {"Description": "description", "ShortDescription": "short_description", "Name": "name"}


class SettingsMethods:
    """getMe, logOut/close, set/get/deleteMyCommands, set/getChatMenuButton, set/getMy{Name,Description,...}."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope JSON, language) → commands
        self.menu_buttons: dict[int | None, JSON] = {}  # chat id (None: the default) → button
        self.bot_settings: dict[tuple[str, str], str] = {}  # (setting, language) → value

    def handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.true,
            "close": self.true,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
        }
        for suffix, key in BOT_SETTINGS.items():
            handlers[f"setMy{suffix}"] = self._setter(key)
            handlers[f"getMy{suffix}"] = self._getter(key)
        return handlers

    async def true(self, params: Params, bot_id: int) -> bool:
        return True

    async def get_me(self, params: Params, bot_id: int) -> JSON:
        return {
            **self.state.bot_json(bot_id),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ----------------------------------------------------------------- commands
    @staticmethod
    def _commands_key(params: Params) -> tuple[str, str]:
        scope = params.get_json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get_str("language_code") or ""

    async def set_my_commands(self, params: Params, bot_id: int) -> bool:
        commands = params.get_json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be an array of at most 100 BotCommand")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(name)):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    async def get_my_commands(self, params: Params, bot_id: int) -> list[JSON]:
        return self.commands.get(self._commands_key(params), [])

    async def delete_my_commands(self, params: Params, bot_id: int) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    # ----------------------------------------------------------------- menu button
    async def set_chat_menu_button(self, params: Params, bot_id: int) -> bool:
        chat_id = params.get_int("chat_id")
        if chat_id is not None and chat_id not in self.state.chats:
            raise bad_request("chat not found")
        button = params.get_json("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
            raise bad_request("can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button
        return True

    async def get_chat_menu_button(self, params: Params, bot_id: int) -> JSON:
        chat_id = params.get_int("chat_id")
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "default"}

    # ----------------------------------------------------------------- name and descriptions
    def _setter(self, key: str) -> Handler:
        async def setter(params: Params, bot_id: int) -> bool:
            self.bot_settings[key, params.get_str("language_code") or ""] = params.get_str(key) or ""
            return True

        return setter

    def _getter(self, key: str) -> Handler:
        async def getter(params: Params, bot_id: int) -> JSON:
            return {key: self.bot_settings.get((key, params.get_str("language_code") or ""), "")}

        return getter
