/* `berth completion bash|zsh|fish`: a completion script for the shell. Verbs come from the
 * command tree (cli_verb_list), flags from each verb's own --help, and container, image, volume
 * and network names from the daemon at completion time (through berth itself, with the -H the
 * command line has). */
#include "cli/internal.h"

/* The shell function that prints the candidates for the words typed so far: shared by bash and
 * zsh (bashcompinit). $1.. = the words after `berth`, the last one being completed. */
static const char bash_body[] =
    "_berth_names() { # $1 = verb, $2 = sub-verb, $3 = how many positionals are typed\n"
    "  local kind=containers\n"
    "  case \"$1 $2\" in\n"
    "    'image '*|'images '*|'rmi '*|'tag '*|'save '*|'push '*|'pull '*|'history '*) "
    "kind=images ;;\n"
    "    'run '*|'create '*|'container run'|'container create') "
    "[ \"$3\" = 0 ] && kind=images || kind=none ;;\n"
    "    'volume '*) kind=volumes ;;\n"
    "    'network '*) kind=networks ;;\n"
    "    'system '*|'info '*|'version '*|'events '*|'load '*|'import '*|'completion '*) "
    "kind=none ;;\n"
    "  esac\n"
    "  case $kind in\n"
    "    containers) \"${_berth_cmd[@]}\" ps -a --format '{{.Names}}' 2>/dev/null ;;\n"
    "    images) \"${_berth_cmd[@]}\" images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null"
    " | grep -v '<none>' ;;\n"
    "    volumes) \"${_berth_cmd[@]}\" volume ls -q 2>/dev/null ;;\n"
    "    networks) \"${_berth_cmd[@]}\" network ls --format '{{.Name}}' 2>/dev/null ;;\n"
    "  esac\n"
    "}\n"
    "_berth_candidates() {\n"
    "  local verb='' sub='' npos=0 w cur=\"${@: -1}\"\n"
    "  _berth_cmd=(berth)\n"
    "  local args=(\"${@:1:$#-1}\") i=0\n"
    "  while [ $i -lt ${#args[@]} ]; do\n"
    "    w=${args[$i]}\n"
    "    case $w in\n"
    "      -H|--host) [ -z \"$verb\" ] && _berth_cmd+=(-H \"${args[$((i+1))]}\"); "
    "i=$((i+1)) ;;\n"
    "      --config|-l|--log-level|--context|-c) [ -z \"$verb\" ] && i=$((i+1)) ;;\n"
    "      -*) ;;\n"
    "      *) if [ -z \"$verb\" ]; then verb=$w\n"
    "         elif [ -z \"$sub\" ] && case $verb in container|image|volume|system|network) "
    "true ;; *) false ;; esac; then sub=$w\n"
    "         else npos=$((npos+1)); fi ;;\n"
    "    esac\n"
    "    i=$((i+1))\n"
    "  done\n"
    "  if [ -z \"$verb\" ]; then\n"
    "    case $cur in -*) echo '--config --debug --host --log-level --version --help' ;;\n"
    "      *) echo \"$_berth_verbs\" ;; esac\n"
    "    return\n"
    "  fi\n"
    "  if [ -z \"$sub\" ]; then\n"
    "    case $verb in\n"
    "      container) echo \"$_berth_container_verbs\"; return ;;\n"
    "      image) echo \"$_berth_image_verbs\"; return ;;\n"
    "      volume|system|network) berth $verb --help 2>/dev/null | awk '/^  [a-z]/ {print "
    "$1}'; return ;;\n"
    "      completion) echo 'bash zsh fish'; return ;;\n"
    "    esac\n"
    "  fi\n"
    "  case $cur in\n"
    "    -*) berth $verb $sub --help 2>/dev/null | grep -oE -- '(^| )--[a-z0-9-]+' "
    "| tr -d ' ' ;;\n"
    "    *) _berth_names \"$verb\" \"$sub\" \"$npos\" ;;\n"
    "  esac\n"
    "}\n";

static const char bash_tail[] = "_berth() {\n"
                                "  local cur=${COMP_WORDS[COMP_CWORD]}\n"
                                "  COMPREPLY=($(compgen -W \"$(_berth_candidates "
                                "\"${COMP_WORDS[@]:1:COMP_CWORD}\")\" -- \"$cur\"))\n"
                                "}\n"
                                "complete -F _berth berth\n";

static void print_lists(void)
{
        static const char *const groups[] = {"", "container", "image"};
        static const char *const vars[] = {"verbs", "container_verbs", "image_verbs"};

        for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
                _cleanup_free_ char *list = cli_verb_list(groups[i]);
                printf("_berth_%s='%s'\n", vars[i], list);
        }
}

int cmd_completion(int argc, char **argv)
{
        static const struct cli_flag flags[] = {{"help", 'h', CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "completion", "bash|zsh|fish", flags, ARRAY_SIZE(flags), argc, argv,
                       false, 1, 1, &code) < 0)
                return code;
        _cleanup_free_ char *shell = xstrdup(a.pos[0]);
        cli_args_release(&a);
        if (strcmp(shell, "bash") == 0 || strcmp(shell, "zsh") == 0) {
                printf("# %s completion for berth: `source <(berth completion %s)`\n", shell,
                       shell);
                if (strcmp(shell, "zsh") == 0)
                        fputs("autoload -U +X bashcompinit && bashcompinit\n", stdout);
                print_lists();
                fputs(bash_body, stdout);
                fputs(bash_tail, stdout);
                return 0;
        }
        if (strcmp(shell, "fish") == 0) {
                fputs("# fish completion for berth: `berth completion fish | source`\n", stdout);
                /* fish runs the bash function through bash: one implementation of the rules */
                fputs("function __berth_complete\n"
                      "    set -l words (commandline -opc) (commandline -ct)\n"
                      "    set -e words[1]\n"
                      "    bash -c (berth completion bash | string collect)'\n"
                      "_berth_candidates \"$@\" | tr \" \" \"\\n\"' berth $words\n"
                      "end\n"
                      "complete -c berth -f -a '(__berth_complete)'\n",
                      stdout);
                return 0;
        }
        fprintf(stderr, "berth completion: unknown shell `%s` (bash, zsh or fish)\n", shell);
        return 1;
}
